// inc adds one to value.
function main (params) {
  return { value: params.value + 1 }
}
