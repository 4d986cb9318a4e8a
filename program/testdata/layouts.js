// Regenerates layouts.json: the instruction layout openwhisk-composer
// 0.12's conductor compiles for each composition below, which the Go
// tree of the same name in lower_test.go must lower to.
//
// Run with node from a directory holding composer.js, fqn.js,
// package.json and conductor.js of openwhisk-composer 0.12, conductor.js
// edited to end with `module.exports.main = main` and to set
// `globalThis.__fsm = fsm` after compiling, and stub modules for
// terser, openwhisk, redis, redis-commands and uuid:
//
//	node layouts.js > layouts.json
'use strict'

const composer = require('./composer')
const { main } = require('./conductor')

// An instruction as the Go test prints one: its type (a let with null is
// "mask"; whatever calls out or runs a function is "call") and its jumps.
function layout (c) {
  main(c.compile().composition)
  return globalThis.__fsm.map(n => {
    let s = n.type
    if (n.type === 'let') s = n.let === null ? 'mask' : 'let'
    if (['action', 'function', 'dynamic'].includes(n.type)) s = 'call'
    for (const k of ['next', 'then', 'else', 'catch']) if (n[k] !== undefined && !(k === 'next' && n[k] === 1)) s += ` ${k}=${n[k]}`
    return s
  })
}

const f = () => ({})
const cases = {
  action: composer.action('a'),
  sequence: composer.seq('a', 'b'),
  sequence_empty: composer.seq(),
  empty: composer.empty(),
  function: composer.function(f),
  dynamic: composer.dynamic(),
  try: composer.try('a', 'b'),
  finally: composer.finally('a', 'b'),
  let: composer.let({ x: 1 }, 'a'),
  mask: composer.mask('a'),
  if: composer.if('t', 'a', 'b'),
  if_no_else: composer.if('t', 'a'),
  if_nosave: composer.if_nosave('t', 'a', 'b'),
  while: composer.while('t', 'a'),
  while_nosave: composer.while_nosave('t', 'a'),
  dowhile: composer.dowhile('a', 't'),
  dowhile_nosave: composer.dowhile_nosave('a', 't'),
  repeat: composer.repeat(3, 'a'),
  retry: composer.retry(2, 'a'),
  retain: composer.retain('a'),
  retain_catch: composer.retain_catch('a'),
  merge: composer.merge('a'),
  nested: composer.while('t', composer.try(composer.if('u', 'a'), composer.let({ y: 2 }, 'b')))
}

const out = {}
const log = console.log
console.log = () => {}
for (const name in cases) out[name] = layout(cases[name])
console.log = log
console.log('{\n' + Object.keys(out).map(k => ` ${JSON.stringify(k)}: ${JSON.stringify(out[k])}`).join(',\n') + '\n}')
