// The fan-out experiment's composition, for openwhisk-composer 0.12:
// `compose fanout.js -o fanout.json` writes the file the experiment runs,
// on wskx's conductor (join: wait, join: handoff) and on composer's own.
//
// Input {branches: N, work_ms: T}: N branches that each work for T ms,
// then one result that lists them in branch order.
const composer = require('openwhisk-composer')

module.exports = composer.sequence(
  p => ({ value: Array.from({ length: p.branches }, (_, i) => ({ branch: i, work_ms: p.work_ms })) }),
  composer.map(composer.action('fanout-work', {
    action: function main (p) {
      return new Promise(resolve => setTimeout(() => resolve({ branch: p.branch, worked_ms: p.work_ms }), p.work_ms))
    }
  })),
  p => ({ branches: p.value.map(b => b.branch), worked_ms: p.value.reduce((sum, b) => sum + b.worked_ms, 0) })
)
