// Compiles every case of the composer suite with openwhisk-composer's own
// compiler, in one node process rather than one per case.
//
//   node compile.js COMPOSER_HOME CASES.json
//
// CASES.json is [{"name", "composition"}], each composition a JavaScript
// expression over `composer`. Prints [{"name", "compiled"}] where
// compiled is what composition.compile() returns ({composition, ast,
// version, actions}), or [{"name", "error"}] with the message composer
// threw: several cases are about what composer refuses.
'use strict'

const fs = require('fs')
const path = require('path')

const [home, file] = process.argv.slice(2)
if (!home || !file) {
  console.error('usage: node compile.js COMPOSER_HOME CASES.json')
  process.exit(2)
}
const composer = require(path.join(home, 'composer.js'))
const cases = JSON.parse(fs.readFileSync(file, 'utf8'))

const out = cases.map(({ name, composition }) => {
  try {
    // Strict, so that a case cannot lean on a global by mistake: the
    // functions it captures run in the conductor, not here.
    const build = new Function('composer', `'use strict'; return (${composition})`)
    return { name, compiled: build(composer).compile() }
  } catch (error) {
    return { name, error: error.message }
  }
})
process.stdout.write(JSON.stringify(out))
