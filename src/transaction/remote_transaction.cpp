#include <cstdio>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "core/gid.hpp"

#include "metadata/metadata_cache.hpp"
#include "pg/as_superuser.hpp"
#include "pg/spi.hpp"
#include "rollup/invalidations.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::xact {

namespace {

int force_depth = 0;
bool local_written = false;  // see wrote_locally()
bool poisoned = false;
// Testing only (fault tests, test/shell/twophase_recovery.sh): inject the failures a crash would cause.
bool testing_skip_commit_prepared = false;  // post-commit leaves the prepared transactions alone
bool testing_fail_after_prepare = false;    // pre-commit fails once every node is prepared and recorded
// Pauses (milliseconds) at the two instants a crash of the coordinator backend must survive, so that a
// fault test (test/shell/twophase_kill.sh) can SIGKILL the backend exactly there.
int testing_pause_after_prepare = 0;  // pre-commit, every node prepared and recorded, before our commit
int testing_pause_after_commit = 0;   // post-commit, our commit record written, before COMMIT PREPARED
std::string poison_reason;

void send_or_throw(conn::Connection &c, const std::string &sql) { conn::send(c, sql.c_str()); }

// Collects every result of the last query; throws the first error.
void finish_or_throw(conn::Connection &c) { conn::finish_command(c, false); }

// Sleeps `ms` on the latch, announced in the server log (with the pid in log_line_prefix) so that a
// test knows the backend is there. Interruptible where PostgreSQL allows it: in pre-commit a cancel
// or terminate ends the wait with an ERROR (thrown as PgError: the transaction aborts and rolls the
// prepared transactions back); in the commit callback interrupts are held (CommitTransaction's
// HOLD_INTERRUPTS), CHECK_FOR_INTERRUPTS does nothing and the wait simply runs out. Postmaster death
// ends the backend either way. The callers' frames hold only PODs inside pg::call.
void testing_pause(const char *setting, int ms) {
    if (ms <= 0) return;
    pg::call([&] {
        ereport(LOG, (errmsg("%s: pausing %d ms", setting, ms)));
        const TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
        for (;;) {
            const long left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);
            if (left <= 0) break;
            (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left, PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
        }
    });
}

void reset_states() {
    for (conn::Connection *c : conn::all()) {
        c->xact = conn::RemoteXact::None;
        c->wrote = false;
        c->gid.clear();
        c->claimed = false;
        c->savepoints.clear();
        c->begun_subxact = InvalidSubTransactionId;
    }
    poisoned = false;
    poison_reason.clear();
    local_written = false;
}

void pre_commit() {
    // Rollup invalidations first: they are rows of this transaction, written before any node
    // prepares or commits (docs/rollup-engine.md).
    engine::record_invalidations();
    if (poisoned)
        throw PgError(sqlstate::connection_failure,
                      "cannot commit: a remote part of this transaction was lost", poison_reason,
                      "The transaction is rolled back; run it again.");
    std::vector<conn::Connection *> written, readonly;
    for (conn::Connection *c : conn::all()) {
        if (c->xact == conn::RemoteXact::Failed)
            throw PgError(sqlstate::object_not_in_prerequisite_state,
                          "cannot commit: a statement failed on node " + c->address,
                          "The remote transaction on that node is aborted.");
        if (c->xact != conn::RemoteXact::Begun) continue;
        (c->wrote ? written : readonly).push_back(c);
    }
    if (written.empty() && readonly.empty()) return;
    // With local writes our own commit is the decision point: the nodes must be prepared first. That
    // holds for any change of the coordinator's own state (metadata, shell tables, local rows: the
    // transaction has an xid), not only for rows written into local shards: a node that committed
    // alone before the coordinator could still fail would leave the two disagreeing (an
    // undistribute_table killed at pre-commit left the table marked distributed, its shards gone).
    const bool coordinator_changed = local_written || TransactionIdIsValid(GetTopTransactionIdIfAny());
    if (written.size() > 1 || (!written.empty() && coordinator_changed)) {
        TransactionId xid = pg::call([] { return GetTopTransactionId(); });
        // Our commit record must be on disk before COMMIT PREPARED reaches any node (post-commit),
        // also under synchronous_commit = off: a crash could otherwise lose our commit after a node
        // committed its part.
        pg::call([] { ForceSyncCommit(); });
        // Every PREPARE that was sent is waited for, even after another node failed: a node that did
        // prepare must be known as prepared, so that the abort rolls it back at once instead of
        // leaving it (and its row locks) to the next recovery. A connection that failed may have
        // been discarded: it is not touched again.
        std::exception_ptr failure;
        auto remember = [&failure](std::exception_ptr e) {
            if (!failure) failure = e;
        };
        for (conn::Connection *c : written) c->gid = core::make_gid(GetSystemIdentifier(), xid, c->nodeid, c->slot);
        {
            // The records first, and durable before any node prepares: recovery tells a prepared
            // transaction whose coordinator transaction failed (roll back) from one still running
            // (leave it) by our xid. A coordinator that crashed before its own commit record was
            // flushed would otherwise come back handing out that same xid again (nothing in the
            // WAL shows it was used), and recovery would take the orphans for a running transaction
            // forever. The records' WAL carries the xid; flushed, redo moves the next xid past it.
            // They are rows of this transaction: an abort (a PREPARE that fails) removes them.
            // Pre-commit runs outside any statement: give SPI a snapshot of its own.
            pg::call([] { PushActiveSnapshot(GetTransactionSnapshot()); });
            struct Pop {
                ~Pop() { PopActiveSnapshot(); }
            } pop;
            pg::AsSuperuser metadata_writer;  // the records are the extension owner's, whoever writes
            pg::SpiSession spi;
            for (conn::Connection *c : written)
                spi.execute("INSERT INTO rollup.prepared_xact (gid, nodeid) VALUES ($1, $2)",
                            {pg::text_param(c->gid), {INT4OID, std::to_string(c->nodeid)}}, false);
        }
        pg::call([] { XLogFlush(XactLastRecEnd); });
        std::vector<conn::Connection *> sent;
        for (conn::Connection *c : written) {
            try {
                send_or_throw(*c, "PREPARE TRANSACTION '" + c->gid + "'");
                sent.push_back(c);
            } catch (...) {
                remember(std::current_exception());
            }
        }
        for (conn::Connection *c : sent) {
            std::string address = c->address;
            try {
                finish_or_throw(*c);
                c->xact = conn::RemoteXact::Prepared;
            } catch (PgError &e) {
                if (e.message().find("prepared transactions are disabled") != std::string::npos)
                    remember(std::make_exception_ptr(PgError(
                        e.code(), e.message(), e.detail(),
                        "Set max_prepared_transactions > 0 on node " + address +
                            ": transactions that write to several nodes use two-phase commit.",
                        e.context())));
                else
                    remember(std::current_exception());
            } catch (...) {
                remember(std::current_exception());
            }
        }
        if (failure) std::rethrow_exception(failure);
        if (testing_fail_after_prepare)
            throw PgError(sqlstate::internal_error, "rollup.testing_fail_after_prepare: failing after PREPARE");
        testing_pause("rollup.testing_pause_after_prepare", testing_pause_after_prepare);
    } else {
        for (conn::Connection *c : written) send_or_throw(*c, "COMMIT");
    }
    for (conn::Connection *c : readonly) send_or_throw(*c, "COMMIT");
    for (conn::Connection *c : written)
        if (c->xact == conn::RemoteXact::Begun) {
            finish_or_throw(*c);
            c->xact = conn::RemoteXact::None;
        }
    for (conn::Connection *c : readonly) {
        finish_or_throw(*c);
        c->xact = conn::RemoteXact::None;
    }
}

// Never throws: the coordinator transaction is already decided.
void post_commit() {
    for (conn::Connection *c : conn::all())
        if (c->xact == conn::RemoteXact::Prepared) {
            testing_pause("rollup.testing_pause_after_commit", testing_pause_after_commit);
            break;
        }
    std::vector<conn::Connection *> lost;
    for (conn::Connection *c : conn::all()) {
        if (c->xact != conn::RemoteXact::Prepared || testing_skip_commit_prepared) continue;
        std::string sql = "COMMIT PREPARED '" + c->gid + "'";
        PGresult *res = conn::exec_bounded(*c, sql.c_str());
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
        // 42704: recovery, running at the same moment, already committed it; 55000 ("is busy"):
        // recovery is committing it right now. Nothing to say either way.
        const bool already_resolved = state && (strcmp(state, "42704") == 0 || strcmp(state, "55000") == 0);
        if ((!res || PQresultStatus(res) != PGRES_COMMAND_OK) && !already_resolved)
            ereport(WARNING, (errmsg("could not commit prepared transaction %s on node %s", c->gid.c_str(),
                                     c->address.c_str()),
                              errdetail("%s", res ? PQerrorMessage(c->pg) : "no answer within rollup.node_connect_timeout"),
                              errhint("rollup.recover_prepared_transactions() will commit it later.")));
        if (res) PQclear(res);
        else lost.push_back(c);  // its state is unknown: never reuse it
    }
    for (conn::Connection *c : lost) conn::discard(*c);
    reset_states();
}

void on_abort() {
    std::vector<conn::Connection *> drop;
    for (conn::Connection *c : conn::all()) {
        if (!c->pg) continue;
        // A SET TimeZone sent inside the remote transaction is undone by its rollback.
        if (c->xact != conn::RemoteXact::None) c->settings.clear();
        if (PQtransactionStatus(c->pg) == PQTRANS_ACTIVE) {
            drop.push_back(c);
            continue;
        }
        const char *sql = nullptr;
        std::string buf;
        if (c->xact == conn::RemoteXact::Prepared) {
            buf = "ROLLBACK PREPARED '" + c->gid + "'";
            sql = buf.c_str();
        } else if (c->xact != conn::RemoteXact::None ||
                   PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
            sql = "ROLLBACK";
        }
        if (!sql) continue;
        PGresult *res = conn::exec_bounded(*c, sql);
        bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
        if (res) PQclear(res);
        if (!ok) drop.push_back(c);
    }
    for (conn::Connection *c : drop) conn::discard(*c);
    reset_states();
}

// Commit and abort callbacks may not raise an ERROR (the transaction is decided) and no C++ exception
// may leave them: anything thrown becomes a WARNING, reported after the catch block.
template <typename Fn>
bool quietly(const char *what, Fn &&fn) {
    pg::ErrorSnapshot err;
    bool failed = false;
    try {
        fn();
    } catch (const PgError &e) {
        pg::snapshot(err, e);
        failed = true;
    } catch (const std::exception &e) {
        pg::snapshot(err, ERRCODE_INTERNAL_ERROR, e.what());
        failed = true;
    } catch (...) {
        pg::snapshot(err, ERRCODE_INTERNAL_ERROR, "unknown C++ exception");
        failed = true;
    }
    if (failed) ereport(WARNING, (errmsg("rollup: %s: %s", what, err.message)));
    return !failed;
}

void xact_callback(XactEvent event, void *) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PARALLEL_PRE_COMMIT:
            pg::guard([] { pre_commit(); });
            break;
        case XACT_EVENT_PRE_PREPARE: {
            bool remote = false;
            for (conn::Connection *c : conn::all())
                if (c->xact != conn::RemoteXact::None) remote = true;
            if (remote)
                ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                                errmsg("cannot PREPARE a transaction that used distributed tables")));
            break;
        }
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
            quietly("after commit", [] { post_commit(); });
            break;
        case XACT_EVENT_PREPARE:
            // PREPARE TRANSACTION of local-only work (remote work was refused at PRE_PREPARE).
            local_written = false;
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            quietly("during abort", [] { on_abort(); });
            break;
        default:
            break;
    }
}

std::string savepoint_name(SubTransactionId id) { return "rollup_sp_" + std::to_string(id); }

// Runs a control command; on failure the connection is dropped and the transaction poisoned
// (subtransaction callbacks must not throw).
bool control_or_poison(conn::Connection *c, const std::string &sql) {
    if (PQtransactionStatus(c->pg) == PQTRANS_ACTIVE) {
        poisoned = true;
        poison_reason = "a subtransaction changed while node " + c->address + " was busy";
        return false;
    }
    PGresult *res = conn::exec_bounded(*c, sql.c_str());
    bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (res) PQclear(res);
    if (!ok) {
        poisoned = true;
        poison_reason = "could not run " + sql + " on node " + c->address;
    }
    return ok;
}

void subxact_changes(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid) {
    switch (event) {
        case SUBXACT_EVENT_START_SUB:
            for (conn::Connection *c : conn::all())
                if (c->xact == conn::RemoteXact::Begun &&
                    control_or_poison(c, "SAVEPOINT " + savepoint_name(mySubid)))
                    c->savepoints.push_back(mySubid);
            break;
        case SUBXACT_EVENT_COMMIT_SUB:
            for (conn::Connection *c : conn::all()) {
                // The remote savepoint can stay: it is gone with the remote transaction.
                if (!c->savepoints.empty() && c->savepoints.back() == mySubid) c->savepoints.pop_back();
                if (c->begun_subxact == mySubid) c->begun_subxact = parentSubid;
            }
            break;
        case SUBXACT_EVENT_ABORT_SUB:
            for (conn::Connection *c : conn::all()) {
                if (c->xact == conn::RemoteXact::None || c->xact == conn::RemoteXact::Prepared) continue;
                c->settings.clear();  // a SET inside the rolled-back part is undone too
                if (c->begun_subxact >= mySubid) {
                    // The whole remote transaction belongs to the aborted subtransaction.
                    if (control_or_poison(c, "ROLLBACK")) {
                        c->xact = conn::RemoteXact::None;
                        c->wrote = false;
                        c->savepoints.clear();
                    }
                    continue;
                }
                auto it = std::find(c->savepoints.begin(), c->savepoints.end(), mySubid);
                if (it == c->savepoints.end()) {
                    if (c->wrote) {
                        poisoned = true;
                        poison_reason = "a rolled-back subtransaction wrote to node " + c->address;
                    }
                    continue;
                }
                c->savepoints.erase(it + 1, c->savepoints.end());
                if (control_or_poison(c, "ROLLBACK TO SAVEPOINT " + savepoint_name(mySubid)) &&
                    c->xact == conn::RemoteXact::Failed)
                    c->xact = conn::RemoteXact::Begun;
                c->savepoints.pop_back();
            }
            break;
        default:
            break;
    }
}

void subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *) {
    if (!quietly("at a subtransaction boundary", [&] { subxact_changes(event, mySubid, parentSubid); })) {
        poisoned = true;  // the remote savepoints no longer follow ours: the transaction cannot commit
        poison_reason = "a subtransaction boundary failed on a node";
    }
}

}  // namespace

ForceRemoteTransactions::ForceRemoteTransactions() { force_depth++; }
ForceRemoteTransactions::~ForceRemoteTransactions() { force_depth--; }
bool force_remote_transactions() { return force_depth > 0; }
void note_local_write() { local_written = true; }
bool wrote_locally() { return local_written; }
void note_begin(conn::Connection &c) {
    c.begun_subxact = GetCurrentSubTransactionId();
    c.savepoints.clear();
}

void connection_lost(conn::Connection &c) {
    if (c.xact != conn::RemoteXact::None) {
        poisoned = true;
        poison_reason = "the connection to node " + c.address + " was closed during the transaction";
    }
}

void define_gucs() {
    DefineCustomBoolVariable("rollup.testing_skip_commit_prepared",
                             "Testing only: leave prepared transactions uncommitted on the nodes after commit.",
                             "As if the coordinator crashed right after committing; recovery resolves them.",
                             &testing_skip_commit_prepared, false, PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL,
                             NULL);
    DefineCustomBoolVariable("rollup.testing_fail_after_prepare",
                             "Testing only: fail a two-phase commit after every node prepared it.",
                             "The error is raised in pre-commit, after the records are written.",
                             &testing_fail_after_prepare, false, PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL,
                             NULL);
    DefineCustomIntVariable("rollup.testing_pause_after_prepare",
                            "Testing only: a two-phase commit waits this long after every node prepared it.",
                            "In pre-commit, after the records are written, before the coordinator commits; "
                            "0 (the default) never waits. A fault test kills the backend there.",
                            &testing_pause_after_prepare, 0, 0, INT_MAX, PGC_SUSET,
                            GUC_NOT_IN_SAMPLE | GUC_UNIT_MS, NULL, NULL, NULL);
    DefineCustomIntVariable("rollup.testing_pause_after_commit",
                            "Testing only: a two-phase commit waits this long before COMMIT PREPARED.",
                            "After the coordinator committed, before the nodes are told; 0 (the default) "
                            "never waits. Interrupts are held there: the wait always runs to its end.",
                            &testing_pause_after_commit, 0, 0, INT_MAX, PGC_SUSET,
                            GUC_NOT_IN_SAMPLE | GUC_UNIT_MS, NULL, NULL, NULL);
}

void register_callbacks() {
    RegisterXactCallback(xact_callback, nullptr);
    RegisterSubXactCallback(subxact_callback, nullptr);
}

int recover_prepared() {
    // A record decides only when read with a snapshot taken after its transaction ended: an older
    // snapshot misses the record of a transaction that committed meanwhile, and recovery would roll
    // back a committed transaction's prepared parts. Each query below takes a fresh snapshot
    // (READ COMMITTED, read_only = false); a transaction snapshot would keep the first one.
    if (IsolationUsesXactSnapshot())
        throw PgError(sqlstate::object_not_in_prerequisite_state,
                      "rollup.recover_prepared_transactions() must run in a READ COMMITTED transaction",
                      "", "Call it outside a REPEATABLE READ or SERIALIZABLE transaction.");
    const uint64_t system_id = GetSystemIdentifier();
    const std::string prefix = "rollup_" + std::to_string(system_id) + "_";
    int resolved = 0;
    int unreachable = 0;
    pg::SpiSession spi;
    for (const metadata::NodeInfo &n : metadata::nodes()) {
        // Records to forget if their prepared transaction is gone: read before the node's list, so
        // that each of them was prepared before the list was taken (a record becomes visible only
        // when its transaction commits, after its PREPARE); a record committed later may belong to
        // a COMMIT PREPARED still on its way.
        auto recs = spi.query("SELECT gid FROM rollup.prepared_xact WHERE nodeid = $1",
                              {{INT4OID, std::to_string(n.nodeid)}}, false);
        std::vector<std::string> gids;
        std::vector<TransactionId> xids;
        conn::Connection *cp = nullptr;
        try {
            cp = &conn::acquire(n.nodeid, 999);  // a slot never used inside transactions
            conn::Connection &c = *cp;
            // The prefix travels as a parameter; only gids that parse exactly as ours are touched
            // (any role of the node can prepare a transaction under a name that starts like ours).
            // Asynchronous and interruptible: a node that stops answering cannot hold recovery
            // (or the scheduler's shutdown) forever.
            const char *values[1] = {prefix.c_str()};
            conn::send(c,
                       "SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE database OPERATOR(pg_catalog.=) "
                       "pg_catalog.current_database() AND pg_catalog.starts_with(gid, $1)",
                       1, values);
            while (PGresult *res = conn::get_result(c)) {
                if (PQresultStatus(res) != PGRES_TUPLES_OK) conn::throw_remote_error(c, res);
                for (int i = 0; i < PQntuples(res); i++) {
                    uint32_t xid = 0;
                    if (!core::parse_gid(PQgetvalue(res, i, 0), system_id, &xid)) continue;
                    gids.emplace_back(PQgetvalue(res, i, 0));
                    xids.push_back(static_cast<TransactionId>(xid));
                }
                PQclear(res);
            }
        } catch (const PgError &e) {
            // A node that cannot be reached now: the others are still resolved; it is next time.
            if (ERRCODE_TO_CATEGORY(e.code()) != ERRCODE_CONNECTION_EXCEPTION) throw;
            unreachable++;
            continue;
        }
        conn::Connection &c = *cp;
        std::set<std::string> present(gids.begin(), gids.end());
        for (size_t g = 0; g < gids.size(); g++) {
            const std::string &gid = gids[g];
            const TransactionId txid = xids[g];
            if (pg::call([&] { return TransactionIdIsInProgress(txid); })) continue;
            auto rows = spi.query("SELECT 1 FROM rollup.prepared_xact WHERE gid = $1", {pg::text_param(gid)},
                                  false);
            std::string sql = (rows.empty() ? "ROLLBACK PREPARED '" : "COMMIT PREPARED '") + gid + "'";  // parsed: digits and _
            try {
                conn::exec_control(c, sql);
            } catch (const PgError &e) {
                // The committing session, or another recovery, resolved it in the meantime (42704) or
                // is resolving it right now (55000, "is busy").
                if (e.code() != make_sqlstate("42704") && e.code() != make_sqlstate("55000")) throw;
                present.erase(gid);
                continue;
            }
            resolved++;
            present.erase(gid);
        }
        for (auto &r : recs)
            if (r[0] && !present.count(*r[0]))
                spi.execute("DELETE FROM rollup.prepared_xact WHERE gid = $1", {pg::text_param(*r[0])});
    }
    // Records of nodes that were removed since: no recovery will ever visit them.
    spi.execute("DELETE FROM rollup.prepared_xact WHERE nodeid NOT IN (SELECT nodeid FROM rollup.node)");
    if (unreachable > 0) {
        const int n = unreachable;
        pg::call([&] {
            ereport(WARNING, (errmsg("rollup: %d node(s) could not be reached for two-phase commit recovery", n),
                              errhint("They are visited again at the next recovery.")));
        });
    }
    return resolved;
}

}  // namespace rollup::xact
