// Package composer turns a policy into a deployable OpenWhisk composition:
// a conductor action, which decides hop by hop whether the chain goes on,
// and the step action it calls, which runs one hop of the job. Both are
// blackbox actions of the wskx runtime image; their /init code (a Code)
// tells a container which role it plays.
//
// The conductor's decision logic is pure Go, in conductor.go: given the
// previous component's result and the carried state it returns the next
// continuation, the final result, or an error.
package composer
