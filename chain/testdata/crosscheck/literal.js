const composer = require('openwhisk-composer')

// literal replaces the value; value is its alias, and a value that is not
// a dictionary becomes {value: ...}.
module.exports = composer.sequence(
  'inc',
  composer.literal({ value: 10, tags: ['a', 'b'], nested: { ok: true, none: null } }),
  'echo',
  composer.retain(composer.value(42)))
