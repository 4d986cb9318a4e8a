const composer = require('openwhisk-composer')

// if_nosave: the branch gets the test's result, not the input.
module.exports = composer.if_nosave(
  params => ({ value: params.value > 5, was: params.value }),
  params => ({ branch: 'then', saw: params }),
  params => ({ branch: 'else', saw: params }))
