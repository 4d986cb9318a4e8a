// Package runner is the step action of a chain and the action proxy that
// hosts it. The proxy speaks OpenWhisk's action container protocol (/init,
// /run); the /init payload makes a container either a step runner, which
// launches or restores the user's job under an Engine, checkpoints it per
// policy and stores the checkpoint, or a conductor, which runs the
// composer's decision logic.
//
// One step activation runs one hop:
//
//  1. read the hop.Request (none: a one-shot job with a fresh id), wait
//     out its backoff, open the checkpoint storage;
//  2. if the job's final result is committed, return it (Replayed);
//  3. claim the hop's lease (see claimGrace for when a holder is dead);
//  4. wipe the job's fixed folders, restore the newest whole generation
//     (it may be newer than the request's, from interval checkpoints of a
//     hop that died) or start fresh;
//  5. take interval checkpoints (each a new generation) and the deadline
//     checkpoint at deadline minus the policy's margin, which stops the
//     job, saves the next generation and prunes old ones;
//  6. when the job exits, its exit wins over a checkpoint in progress: the
//     partial image is dropped, never saved;
//  7. commit the result create-if-absent; a loser returns the stored one.
//
// Hop failures are results carrying a Failed report, not error results:
// OpenWhisk keeps only the error field of those, and the conductor needs
// the report. The self-invoke baseline (ModeSelfInvoke) leaves out 2, 3
// and 7 as the original design did, and ends its hop the original way: a
// checkpoint that leaves the job running, the upload, the invocation of the
// next hop, and only then a look at whether the job has ended meanwhile.
//
// Each report says how much work the hop did after the newest image it
// leaves (lost_ms: a later hop does it again) and how long it was billed
// while blocked on another activation (wait_ms), for the experiments.
package runner
