// DivideByTwo: half of n, and nothing else of the input.
function main(params) {
  const half = params.n / 2
  return { n: half }
}
