const composer = require('openwhisk-composer')

// retain: {params: the input, result: the components' result}.
module.exports = composer.retain('inc', 'double')
