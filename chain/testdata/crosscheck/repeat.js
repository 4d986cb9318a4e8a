const composer = require('openwhisk-composer')

// repeat's components run as a sequence, three times.
module.exports = composer.repeat(3, 'inc', 'double')
