// The parameters are the result, as they came.
function main(params) {
  return params || {}
}
