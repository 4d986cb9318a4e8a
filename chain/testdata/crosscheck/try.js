const composer = require('openwhisk-composer')

// try: the handler gets only the error; a body that succeeds skips it.
module.exports = composer.try(
  composer.sequence('flaky', 'inc'),
  params => ({ caught: params.error }))
