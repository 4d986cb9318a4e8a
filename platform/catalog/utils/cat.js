// The lines, and the payload they make one after the other.
function main(params) {
  const lines = params.lines || []
  return { lines, payload: lines.join('\n') }
}
