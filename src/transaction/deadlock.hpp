// Distributed deadlock detection.
//
// Design note. A lock wait that spans nodes (a transaction waits on worker 1 for a second one, which
// waits on worker 2 for the first) is invisible to every node's own deadlock detector. Like
// PostgreSQL's own detector, the check runs in the waiting backend itself, once it has waited
// deadlock_timeout for node results: it asks every node (and the coordinator) which backends block
// which, maps node backends to the coordinator backends that own them (node connections are tagged
// application_name = 'rollup:<system id>:<coordinator pid>'), and looks for a cycle through itself.
// The youngest transaction of the cycle (latest xact_start, then highest pid) is the victim: if that
// is this backend, it fails with 40P01 like a local deadlock; otherwise it keeps waiting, and if the
// same cycle is still there at its next check (the victim is not waiting in our executor, e.g. it
// sleeps on a coordinator lock and never checks), it gives up itself. Nothing runs until a wait has
// lasted deadlock_timeout: no cost on the fast path.
#pragma once
#include <string>

#include "pg/guard.hpp"

namespace rollup::xact {

// The application_name of this backend's node connections.
std::string node_application_name();

// Called by a backend that has waited deadlock_timeout (or longer) for node results. Throws 40P01
// when this backend must give up to break a distributed deadlock.
void check_distributed_deadlock();
// A new wait begins (forget the cycle seen by an earlier wait).
void reset_deadlock_check();

}  // namespace rollup::xact
