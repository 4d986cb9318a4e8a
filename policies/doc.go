// Package policies loads and validates wskx policy files. A policy says how
// one long job runs as a chain of checkpoint/restore hops: the job (command,
// engine, action limits), when to checkpoint (near the deadline, at
// intervals, or both), how the chain goes on (hop and time budgets, a
// continue condition, retries, the idempotency key, the composition length
// limit) and where checkpoints are stored.
//
// Values that depend on the run are expr-lang/expr expressions, compiled
// once when the policy is loaded against the typed Env and run for every
// hop. All defaults live in defaults.go.
package policies
