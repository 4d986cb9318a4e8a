// The payload cut at each separator (a string; by default line ends).
// Without a payload there is nothing to cut, and the action fails.
function main(params) {
  if (params.payload === undefined || params.payload === null) {
    throw new Error('split needs a payload')
  }
  const separator = params.separator || /\r?\n/
  return { lines: String(params.payload).split(separator), payload: params.payload }
}
