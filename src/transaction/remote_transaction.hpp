// Remote transactions: what happens on the nodes when the coordinator's transaction ends.
//  - one node written: COMMIT it in pre-commit (an error there still aborts the coordinator);
//  - several nodes written: PREPARE TRANSACTION on each, record the gids in rollup.prepared_xact in
//    the coordinator's own transaction, COMMIT PREPARED after the coordinator committed;
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

// Resolves orphaned prepared transactions on every node; returns how many it resolved.
int recover_prepared();

}  // namespace rollup::xact
