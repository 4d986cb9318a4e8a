const composer = require('openwhisk-composer')

// finally: the finalizer runs after the body, failed or not, and gets its
// result; the finalizer's result is the composition's.
module.exports = composer.finally(
  composer.sequence('flaky', 'double'),
  params => ({ done: true, saw: params }))
