// The first num lines (one unless num says otherwise).
function main(params) {
  const lines = params.lines || []
  const num = params.num || 1
  return { lines: lines.slice(0, num), num }
}
