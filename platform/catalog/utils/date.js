// The time now, as an ISO 8601 string.
function main() {
  return { date: new Date().toISOString() }
}
