const composer = require('openwhisk-composer')

// let: functions read and assign variables; a function without a result
// passes its input on; an inner let's variable shadows an outer one and
// is gone when it ends, while assignments to the outer ones stay.
module.exports = composer.let({ total: 0, x: 1, y: 10 },
  params => { total += params.value },
  'inc',
  params => { total += params.value },
  composer.let({ x: 100 }, params => { x++; y++ }),
  params => ({ value: params.value, total, x, y }))
