const composer = require('openwhisk-composer')

// A sequence with an empty step (null) and a nested seq.
module.exports = composer.sequence('inc', null, 'double', composer.seq('inc', 'echo'))
