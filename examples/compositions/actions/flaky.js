// Fails every other call in a warm container: something worth retrying.
let calls = 0
function main(params) {
  calls++
  if (calls % 2 === 1) {
    return { error: `flaky: call ${calls} failed` }
  }
  return Object.assign({}, params, { calls })
}
