// The lines in JavaScript's default order (as strings), and how many.
function main(params) {
  const lines = params.lines || []
  lines.sort()
  return { lines, length: lines.length }
}
