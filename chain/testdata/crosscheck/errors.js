const composer = require('openwhisk-composer')

// An error raised deep inside if, repeat and let leaves them all, reaches
// the finalizer (which passes it on: echo returns it, so it is an error
// again) and skips everything after it.
module.exports = composer.sequence(
  'inc',
  composer.finally(
    composer.let({ x: 1 },
      composer.repeat(2, 'double', composer.if('small', 'fail', 'inc'), 'inc')),
    'echo'),
  params => ({ value: params.value, passed: true }),
  'inc')
