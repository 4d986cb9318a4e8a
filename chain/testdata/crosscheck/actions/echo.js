// echo returns its input.
function main (params) {
  return params
}
