// isEven: a condition for the branches.
function main(params) {
  return { value: params.n % 2 === 0 }
}
