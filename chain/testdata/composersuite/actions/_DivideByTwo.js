// _DivideByTwo: a composition, not an action, that the suite deploys next
// to its actions: DivideByTwo wrapped in a one-step sequence.
const composer = require('openwhisk-composer')

module.exports = composer.seq('DivideByTwo')
