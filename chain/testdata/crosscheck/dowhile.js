const composer = require('openwhisk-composer')

// dowhile runs its body once before the first test; dowhile_nosave ends
// with the test's last result.
module.exports = composer.sequence(
  composer.dowhile('double', params => params.value < 10),
  params => ({ n: params.value }),
  composer.dowhile_nosave(params => ({ n: params.n + 5 }), params => ({ value: params.n < 40, n: params.n })))
