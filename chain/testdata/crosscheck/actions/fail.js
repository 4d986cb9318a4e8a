// fail always fails, naming the value it got.
function main (params) {
  return { error: 'fail at value ' + params.value }
}
