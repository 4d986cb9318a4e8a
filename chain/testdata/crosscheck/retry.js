const composer = require('openwhisk-composer')

// retry: each attempt starts from the same input; a let variable counts
// the attempts and tells flaky which one it is. Three retries make four
// attempts at most.
module.exports = composer.let({ attempt: 0 },
  composer.retry(3,
    params => { attempt++; return { value: params.value, failures: params.failures, attempt } },
    'flaky'),
  params => ({ value: params.value, attempts: params.attempts, counted: attempt }))
