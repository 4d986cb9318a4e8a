const composer = require('openwhisk-composer')

// while_nosave: the body gets the test's result, and the loop's result is
// the test's last one.
module.exports = composer.while_nosave(
  params => ({ value: params.n < 50, n: params.n }),
  params => ({ n: params.n * 3 }))
