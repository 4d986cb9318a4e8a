const composer = require('openwhisk-composer')

// merge: the components' result laid over the input.
module.exports = composer.merge('double', params => ({ doubled: params.value }))
