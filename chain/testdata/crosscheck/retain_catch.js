const composer = require('openwhisk-composer')

// retain_catch: as retain, and an error is kept as the result.
module.exports = composer.retain_catch('flaky', 'inc')
