// isNotOne: a condition for the loops, true until n reaches 1.
function main(params) {
  return { value: params.n != 1 }
}
