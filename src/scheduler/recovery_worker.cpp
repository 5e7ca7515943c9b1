// Two-phase commit recovery in every database. The scheduler of rollup.scheduler_database resolves
// the prepared transactions of its own database every 30 s (job_loop.cpp); the launcher starts this
// short-lived worker for each other database that accepts connections, one at a time, every
// kRecoveryRoundMs: it resolves what a crash left there (and forgets the records of committed
// transactions, which would otherwise pile up in rollup.prepared_xact) when the extension exists
// there, and exits.
#include <cstring>

#include "scheduler/catalog.hpp"
#include "scheduler/internal.hpp"
#include "transaction/remote_transaction.hpp"

extern "C" PGDLLEXPORT void rollup_recovery_main(Datum arg);

namespace rollup::scheduler {
namespace {

void recovery_main() {
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    char db[NAMEDATALEN];
    strlcpy(db, MyBgworkerEntry->bgw_extra, sizeof db);
    BackgroundWorkerInitializeConnection(db, nullptr, 0);
    pgstat_report_appname("rollup recovery");
    CatalogUser cu;
    pg::call([&] { open_txn(cu); });
    int resolved = 0;
    if (pg::call([] { return extension_exists(); })) resolved = xact::recover_prepared();
    pg::call([&] { close_txn(cu); });
    if (resolved > 0) {
        const int n = resolved;
        pg::call([&] {
            elog(LOG, "rollup recovery: resolved %d prepared transaction(s) left on the nodes by database \"%s\"", n,
                 db);
        });
    }
}

}  // namespace
}  // namespace rollup::scheduler

extern "C" void rollup_recovery_main(Datum arg) {
    rollup::pg::guard([&] { rollup::scheduler::recovery_main(); });
}
