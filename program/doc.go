// Package program lowers a workflow tree (policies.Node) to a flat
// program and runs it, the way openwhisk-composer 0.12's conductor does.
//
// Lower turns the tree into instructions with relative jumps and a frame
// stack: the core combinators as the conductor compiles them, the derived
// ones (if, while, retry, retain, ...) first rewritten into core ones as
// composer's lowerer does, with the lowerer's JavaScript closures replaced
// by named Go builtins and its variables by "$"-prefixed ones that no user
// expression can name. A Program is plain data (Encode, Decode) so that it
// can be deployed inside a conductor action.
//
// Load checks a Program and compiles its expressions (and the JavaScript
// of imported compositions' functions, see jsFunction) once into a Machine,
// which is immutable and shared by every run. A run's whole state is a
// State value: Start and Resume advance it one transition at a time until
// the program needs an action or a job run for it, or ends. Between those
// calls the State is all there is to persist, so a conductor invocation
// can stop after any action and a later one carry on.
package program
