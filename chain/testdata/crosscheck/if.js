const composer = require('openwhisk-composer')

// if with an action as the test (its result is dropped: the branch gets
// the input from before it), then an if without else.
module.exports = composer.sequence(
  composer.if('small', 'inc', 'double'),
  composer.if(params => params.value > 10, params => ({ value: params.value, big: true })))
