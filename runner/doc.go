// Package runner is the step action of a chain and the action proxy that
// hosts it. The proxy speaks OpenWhisk's action container protocol (/init,
// /run); the /init payload makes a container either a step runner, which
// launches or restores the user's job under an Engine, checkpoints it per
// policy and stores the checkpoint, or a conductor, which runs the
// composer's decision logic.
package runner
