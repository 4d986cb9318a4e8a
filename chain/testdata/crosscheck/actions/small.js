// small tests value < 10, as a condition: {value: true|false}.
function main (params) {
  return { value: params.value < 10 }
}
