const composer = require('openwhisk-composer')

// mask hides the innermost let: inside it n is the outer n.
module.exports = composer.let({ n: 1 },
  composer.let({ n: 2 },
    composer.mask(params => { n += 10 }),
    params => ({ value: params.value, inner: n })),
  params => ({ value: params.value, inner: params.inner, outer: n }))
