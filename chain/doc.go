// Package chain is the checkpoint chain as a user drives it: deploy a
// compiled composition through the OpenWhisk REST API, invoke its
// conductor, and follow the hops live from the activation records until
// the job's result, across the invocations a long job may need.
package chain
