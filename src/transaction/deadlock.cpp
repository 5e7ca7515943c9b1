#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/wait_graph.hpp"

#include "connection/connection_pool.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/as_superuser.hpp"
#include "pg/spi.hpp"
#include "transaction/deadlock.hpp"

namespace rollup::xact {

namespace {

// A slot never used inside transactions: the check runs beside the waiting statement's own
// connections, in autocommit.
constexpr int kCheckSlot = 998;

std::vector<int> last_cycle;  // the cycle seen at the previous check of this wait, sorted
int cycle_checks = 0;         // consecutive checks of this wait that saw last_cycle
TimestampTz cycle_since = 0;  // when this wait first saw last_cycle
// How long a non-victim lets a victim that can act (it waits in our executor, or is rolling
// back) break the cycle itself before it gives up too: under load a victim's rollback on the
// nodes can take seconds, and giving up early aborts both transactions.
constexpr long kVictimGraceMs = 5000;
std::set<int> unreachable;    // nodes that could not be asked during this wait (not retried)

std::string tag_prefix() { return "rollup:" + std::to_string(GetSystemIdentifier()) + ":"; }

// The coordinator pid a backend belongs to: node connections carry it in their application_name.
int owner_of(const std::string &application_name, int pid, bool on_coordinator, const std::string &prefix) {
    if (application_name.compare(0, prefix.size(), prefix) == 0) {
        try {
            return std::stoi(application_name.substr(prefix.size()));
        } catch (...) {
            return -1;
        }
    }
    return on_coordinator ? pid : -1;  // a foreign backend on a node is not one of ours
}

const char *kEdgesSql =
    "SELECT w.pid, w.application_name, h.pid, h.application_name "
    "FROM pg_catalog.pg_stat_activity w "
    "CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(w.pid)) AS b(pid) "
    "JOIN pg_catalog.pg_stat_activity h ON h.pid OPERATOR(pg_catalog.=) b.pid";

using Graph = core::WaitGraph;

void add_edges(Graph &g, const std::vector<std::vector<std::string>> &rows, bool on_coordinator,
               const std::string &prefix) {
    for (const auto &r : rows) {
        int waiter = owner_of(r[1], std::stoi(r[0]), on_coordinator, prefix);
        int holder = owner_of(r[3], std::stoi(r[2]), on_coordinator, prefix);
        if (waiter > 0 && holder > 0 && waiter != holder) g[waiter].insert(holder);
    }
}

}  // namespace

std::string node_application_name() { return tag_prefix() + std::to_string(MyProcPid); }

void reset_deadlock_check() {
    last_cycle.clear();
    cycle_checks = 0;
    unreachable.clear();
}

void check_distributed_deadlock() {
    const std::string prefix = tag_prefix();
    Graph g;
    for (const metadata::NodeInfo &n : metadata::nodes()) {
        if (n.is_coordinator || unreachable.count(n.nodeid)) continue;  // the coordinator: below, once
        std::vector<std::vector<std::string>> rows;
        try {
            conn::Connection &c = conn::acquire(n.nodeid, kCheckSlot);
            conn::send(c, kEdgesSql);
            for (;;) {
                PGresult *res = conn::get_result(c);
                if (!res) break;
                if (PQresultStatus(res) != PGRES_TUPLES_OK) conn::throw_remote_error(c, res);
                for (int i = 0; i < PQntuples(res); i++)
                    rows.push_back({PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                                    PQgetvalue(res, i, 3)});
                PQclear(res);
            }
        } catch (const PgError &e) {
            // A node we cannot reach (connection exception, class 08, raised by our own connection
            // code): its edges are unknown, the check goes on without them and does not ask it again
            // during this wait. Anything else (a cancel, statement_timeout) is the statement's.
            if (ERRCODE_TO_CATEGORY(e.code()) != ERRCODE_CONNECTION_EXCEPTION) throw;
            unreachable.insert(n.nodeid);
            continue;
        }
        add_edges(g, rows, false, prefix);
    }
    std::map<int, core::XactState> xact_state;  // coordinator pid -> its transaction
    std::map<int, std::string> wait_type;        // coordinator pid -> wait_event_type ('' when not waiting)
    {
        pg::SpiSession spi;
        // pg_stat_activity shows xact_start and wait_event_type of other roles' backends only to a
        // role with their privileges or pg_read_all_stats: read as an ordinary role, the members of
        // a cycle that belong to other roles would look like backends ending their transactions,
        // and each side would wait for the other to give up. Read here, used only for the choice.
        pg::AsSuperuser activity_reader;
        // pg_stat_activity is read once per transaction and then cached: this check runs inside the
        // waiting statement's transaction, so it asks for the current state every time.
    pg::call([] { pgstat_clear_snapshot(); });
        std::vector<std::vector<std::string>> rows;
        for (auto &r : spi.query(kEdgesSql, {}, false))
            rows.push_back({r[0].value_or("0"), r[1].value_or(""), r[2].value_or("0"), r[3].value_or("")});
        add_edges(g, rows, true, prefix);
        for (auto &r : spi.query("SELECT pid, pg_catalog.to_char(xact_start AT TIME ZONE 'UTC', "
                                 "'YYYYMMDDHH24MISSUS'), wait_event_type, state FROM pg_catalog.pg_stat_activity",
                                 {}, false)) {
            if (!r[0]) continue;
            const int pid = std::stoi(*r[0]);
            core::XactState &x = xact_state[pid];
            if (r[3].value_or("") == "disabled")
                x.kind = core::XactState::Unknown;
            else if (!r[1])
                x.kind = core::XactState::Ending;
            else {
                x.kind = core::XactState::Running;
                x.start = *r[1];
            }
            wait_type[pid] = r[2].value_or("");
        }
    }
    std::vector<int> cycle = core::cycle_through(g, MyProcPid);
    if (cycle.empty()) {
        last_cycle.clear();
        cycle_checks = 0;
        return;
    }
    // The youngest transaction gives up (see core::choose_victim: one that is already ending its
    // transaction first).
    const int victim = core::choose_victim(cycle, xact_state);
    std::vector<int> sorted = cycle;
    std::sort(sorted.begin(), sorted.end());
    const TimestampTz now = GetCurrentTimestamp();
    if (sorted != last_cycle) cycle_since = now;
    cycle_checks = sorted == last_cycle ? cycle_checks + 1 : 1;
    last_cycle = sorted;
    if (victim != MyProcPid) {
        // The victim breaks the cycle itself unless it waits on a coordinator lock (wait type
        // Lock), where it never runs this check: in our executor it runs it too, and when it is
        // not waiting at all it is already rolling back (its nodes' locks go a moment later).
        // A victim stuck on a lock is given up for once the same cycle has outlived two checks;
        // any other, after six and kVictimGraceMs (a victim that cannot see the whole cycle, a
        // node it cannot reach).
        const bool victim_stuck = wait_type[victim] == "Lock";
        if (cycle_checks < (victim_stuck ? 2 : 6)) return;
        if (!victim_stuck && !TimestampDifferenceExceeds(cycle_since, now, kVictimGraceMs)) return;
    }
    std::string detail;
    for (size_t i = 0; i < cycle.size(); i++)
        detail += (i ? "; " : "") + std::string("process ") + std::to_string(cycle[i]) + " waits for process " +
                  std::to_string(cycle[(i + 1) % cycle.size()]);
    last_cycle.clear();
    cycle_checks = 0;
    throw PgError(make_sqlstate("40P01"), "deadlock detected", "Distributed deadlock across nodes: " + detail + ".",
                  "See server log for query details.");
}

}  // namespace rollup::xact
