// TripleAndIncrement: the Collatz step for an odd n, and nothing else of
// the input.
function main(params) {
  const next = 3 * params.n + 1
  return { n: next }
}
