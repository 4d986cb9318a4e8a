// echo: the input, untouched.
function main(params) {
  return params
}
