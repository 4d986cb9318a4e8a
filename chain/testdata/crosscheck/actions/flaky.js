// flaky fails while the attempt counter in its input has not passed the
// number of failures asked for: {value, attempt, failures} gives
// {value, attempts: attempt} once attempt > failures.
function main (params) {
  if (params.attempt <= params.failures) {
    return { error: 'flaky: attempt ' + params.attempt + ' of ' + params.failures + ' failures' }
  }
  return { value: params.value, attempts: params.attempt }
}
