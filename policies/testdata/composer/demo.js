const composer = require('openwhisk-composer')
module.exports = composer.sequence(
  composer.action('inc2', { action: function main(p) { return { value: p.value + 2 } } }),
  composer.retry(2, 'inc'),
  composer.let({ count: 3 }, composer.while(() => count-- > 0, 'inc')),
  composer.if(p => p.value > 3, composer.literal({ big: true }), 'inc'),
  composer.try('fail', composer.mask(composer.merge('inc'))),
  composer.finally(composer.retain_catch('fail'), composer.dynamic()))
