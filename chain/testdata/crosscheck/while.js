const composer = require('openwhisk-composer')

// while: the body gets the input from before the test.
module.exports = composer.while(params => params.value < 20, 'double')
