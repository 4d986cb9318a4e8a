const composer = require('openwhisk-composer')

// Nested loops over let variables: the inner loop runs i times for
// i = 1, 2, 3 and sees the outer loop's i; then two repeats, one inside
// the other.
module.exports = composer.let({ i: 0, cells: 0 },
  composer.while(() => i++ < 3,
    composer.let({ j: 0 },
      composer.while(() => j++ < i,
        composer.seq(() => { cells++ }, 'inc')))),
  composer.repeat(2, composer.repeat(2, 'double')),
  params => ({ value: params.value, i, cells }))
