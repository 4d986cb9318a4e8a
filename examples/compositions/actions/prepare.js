// Checks the request and turns it into the long job's parameters.
function main(params) {
  const n = Number(params.n)
  if (!Number.isInteger(n) || n < 1) {
    return { error: `n must be a whole number above 0, got ${params.n}` }
  }
  return { n, pause_ms: Number(params.pause_ms || 1000), requested_by: params.user || 'anonymous' }
}
