// double doubles value.
function main (params) {
  return { value: params.value * 2 }
}
