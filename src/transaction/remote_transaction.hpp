// Remote transactions: what happens on the nodes when the coordinator's transaction ends.
//  - one node written: COMMIT it in pre-commit (an error there still aborts the coordinator);
//  - several nodes written: PREPARE TRANSACTION on each, record the gids in rollup.prepared_xact in
//    the coordinator's own transaction, COMMIT PREPARED after the coordinator committed;
//  - local writes (the coordinator's own shards, written in this backend) plus any written node:
//    two-phase commit as above, even for one node (COMMIT of a single node before our own commit
//    would not be atomic with the local rows);
//  - abort: ROLLBACK (or ROLLBACK PREPARED) everywhere.
// Subtransactions (SAVEPOINT, PL/pgSQL exception blocks) are mirrored on every node that is inside
// a remote transaction: SAVEPOINT at start, ROLLBACK TO SAVEPOINT when the subtransaction aborts.
// A prepared transaction orphaned by a crash is resolved by recover_prepared(): committed when its
// record exists (the coordinator committed), rolled back otherwise.
#pragma once
#include <string>

#include "connection/connection_pool.hpp"

namespace rollup::xact {

void register_callbacks();
// rollup.testing_* settings (fault injection for the fault tests).
void define_gucs();

// Inside this scope, every statement sent to a node runs in a remote transaction block.
struct ForceRemoteTransactions {
    ForceRemoteTransactions();
    ~ForceRemoteTransactions();
};
bool force_remote_transactions();
// Called right after a remote BEGIN was sent on a connection.
void note_begin(conn::Connection &c);

// A connection with a remote transaction was dropped: the coordinator transaction must not commit.
void connection_lost(conn::Connection &c);

// Local execution (src/executor/local_insert.hpp): this backend wrote to the coordinator's own
// shards in the current transaction. Reset at commit and abort; kept after ROLLBACK TO SAVEPOINT
// (conservative: it only means "keep the coordinator's shards local until the end"). While set,
// every statement on the coordinator's shards must run in this backend (a loopback connection
// cannot see the uncommitted rows, and would wait forever on the locks we hold), and pre-commit
// uses two-phase commit for any written remote node, even a single one: the coordinator's own
// commit is then the decision point.
void note_local_write();
bool wrote_locally();

// Resolves orphaned prepared transactions on every node; returns how many it resolved.
int recover_prepared();

}  // namespace rollup::xact
