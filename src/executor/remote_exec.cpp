// Design note. execute() is the one place that talks to nodes for statements. It assigns each task a
// connection (writes and anything after a write on that node: slot 0; other reads: spread over up
// to rollup.max_connections_per_node slots), sends the first task of every connection at once, and
// then waits on one WaitEventSet holding every socket plus the latch and postmaster death. A task's
// results are consumed as they arrive. On a remote error the other running queries are cancelled;
// on an interrupt (cancel, statement_timeout) every busy connection is cancelled and dropped. The
// WaitEventSet and the claims on connections are released by destructors on every path.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/remote_exec.hpp"
#include "pg/spi.hpp"
#include "transaction/deadlock.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::exec {

namespace {

// A task goes out as one or more protocol steps, each exactly one statement in the extended
// protocol (which refuses a string of several statements, so no generated text can smuggle in a
// second one): the BEGIN / SET statements the connection needs first, a Parse of a statement not
// yet prepared on the connection, then the task's statements. A task of several steps is sent as
// one libpq pipeline (one round trip, results read in order up to the pipeline's sync), except a
// single-row read, whose steps go one at a time (single-row mode is chosen per query as it starts).
struct Step {
    enum Kind { Prepare, ExecPrepared, QueryParams } kind;
    std::string text;  // SQL (Prepare, QueryParams)
    std::string name;  // prepared statement (Prepare, ExecPrepared)
    bool prefix = false;     // BEGIN / SET: its COMMAND_OK result is not the task's
    bool with_params = false;  // the task's parameters go with this step
};

constexpr int kMaxPreparedPerConnection = 128;

struct Lane {
    conn::Connection *c = nullptr;
    std::deque<Task *> queue;
    Task *current = nullptr;
    std::vector<Step> steps;
    size_t step = 0;
    bool pipelined = false;  // every step was sent at once, a sync follows the last
    bool flushing = false;
    bool armed_for_write = false;
    int event_pos = -1;
};

bool needs_remote_xact(const Task &t, const conn::Connection &c) {
    if (c.xact == conn::RemoteXact::Begun) return false;  // already inside one
    if (t.autocommit && c.xact == conn::RemoteXact::None && !IsTransactionBlock() &&
        !xact::force_remote_transactions())
        return false;
    return t.write || IsTransactionBlock() || xact::force_remote_transactions();
}

// The steps of a task on a connection (and the remote transaction bookkeeping they imply).
std::vector<Step> plan_steps(Task &t, conn::Connection &c) {
    std::vector<Step> steps;
    for (std::string &p : statement_prefix(c, needs_remote_xact(t, c))) {
        Step st{Step::QueryParams, std::move(p), {}};
        st.prefix = true;
        steps.push_back(std::move(st));
    }
    // A write sent outside a remote transaction commits on the node by itself (autocommit).
    if (t.write && c.xact != conn::RemoteXact::None) c.wrote = true;
    if (!t.statements.empty()) {
        for (const std::string &sql : t.statements) steps.push_back({Step::QueryParams, sql, {}});
        return steps;
    }
    if (t.prepare) {
        auto it = c.prepared.find(t.sql);
        if (it != c.prepared.end()) {
            c.prepared_used[t.sql] = ++c.use_clock;
            Step st{Step::ExecPrepared, {}, it->second};
            st.with_params = true;
            steps.push_back(st);
            return steps;
        }
        // A full cache gives up its least recently used statement (statements whose text holds a
        // time, e.g. a dashboard's window, are new every minute or so).
        if (static_cast<int>(c.prepared.size()) >= kMaxPreparedPerConnection) {
            auto oldest = c.prepared_used.begin();
            for (auto u = c.prepared_used.begin(); u != c.prepared_used.end(); ++u)
                if (u->second < oldest->second) oldest = u;
            auto victim = oldest != c.prepared_used.end() ? c.prepared.find(oldest->first) : c.prepared.end();
            if (victim != c.prepared.end()) {
                Step st{Step::QueryParams, "DEALLOCATE " + victim->second, {}};
                st.prefix = true;
                steps.push_back(std::move(st));
                c.prepared.erase(victim);
                c.prepared_used.erase(oldest);
            }
        }
        if (static_cast<int>(c.prepared.size()) < kMaxPreparedPerConnection) {
            c.prepared_used[t.sql] = ++c.use_clock;
            std::string name = "rollup_" + std::to_string(++c.next_statement);
            steps.push_back({Step::Prepare, t.sql, name});
            Step ex{Step::ExecPrepared, {}, name};
            ex.with_params = true;
            steps.push_back(ex);
            return steps;
        }
    }
    Step st{Step::QueryParams, t.sql, {}};
    st.with_params = true;
    steps.push_back(st);
    return steps;
}

// Sends one step (no flush).
void send_one(Lane &l, const Step &st) {
    Task &t = *l.current;
    std::vector<const char *> values;
    if (st.with_params)
        for (const auto &p : t.params) values.push_back(p ? p->c_str() : nullptr);
    const int n = st.with_params ? static_cast<int>(t.params.size()) : 0;
    const Oid *types = st.with_params && !t.param_types.empty() ? t.param_types.data() : nullptr;
    int ok = 0;
    switch (st.kind) {
        case Step::Prepare:
            ok = PQsendPrepare(l.c->pg, st.name.c_str(), st.text.c_str(), static_cast<int>(t.params.size()),
                               t.param_types.empty() ? nullptr : t.param_types.data());
            break;
        case Step::ExecPrepared:
            ok = PQsendQueryPrepared(l.c->pg, st.name.c_str(), n, values.data(), nullptr, nullptr, 0);
            break;
        case Step::QueryParams:
            ok = PQsendQueryParams(l.c->pg, st.text.c_str(), n, types, values.data(), nullptr, nullptr, 0);
            break;
    }
    if (!ok) conn::throw_remote_error(*l.c, nullptr);
}

void flush(Lane &l) {
    int f = PQflush(l.c->pg);
    if (f < 0) conn::throw_remote_error(*l.c, nullptr);
    l.flushing = f == 1;
}

// Starts the lane's current task: all steps in one pipeline, or the first step alone.
void start_task(Lane &l) {
    Task &t = *l.current;
    l.step = 0;
    l.pipelined = l.steps.size() > 1 && !t.single_row;
    if (l.pipelined) {
        if (!PQenterPipelineMode(l.c->pg)) conn::throw_remote_error(*l.c, nullptr);
        for (const Step &st : l.steps) send_one(l, st);
        if (!PQpipelineSync(l.c->pg)) conn::throw_remote_error(*l.c, nullptr);
    } else {
        send_one(l, l.steps[0]);
        if (l.steps.size() == 1 && t.single_row) PQsetSingleRowMode(l.c->pg);
    }
    flush(l);
}

// Sends the next step of a task sent one step at a time.
void send_next_step(Lane &l) {
    const Step &st = l.steps[l.step];
    send_one(l, st);
    if (l.step + 1 == l.steps.size() && l.current->single_row) PQsetSingleRowMode(l.c->pg);
    flush(l);
}

struct WaitSet {
    WaitEventSet *set = nullptr;
    ~WaitSet() {
        if (set) FreeWaitEventSet(set);
    }
};

}  // namespace

std::vector<std::string> statement_prefix(conn::Connection &c, bool begin) {
    std::vector<std::string> prefix;
    if (begin) {
        prefix.emplace_back(conn::begin_statement());
        c.xact = conn::RemoteXact::Begun;
        xact::note_begin(c);
    }
    for (std::string &s : conn::session_sync_statements(c)) prefix.push_back(std::move(s));
    return prefix;
}

void execute_refs(std::vector<Task *> &tasks, const std::function<void()> &while_running);

namespace {

bool local_execution_guc = true;
int local_max_pages_guc = 0;

// Runs a task here, through SPI, handing its rows over as a PGresult like a node would.
void run_local(Task &t) {
    const bool read_only = !t.write;
    if (!read_only) xact::note_local_write();
    conn::CanonicalOutputStyle style;  // the same text forms a node session produces
    pg::SpiSession spi;
    const char *sql = t.sql.c_str();
    const int nargs = static_cast<int>(t.params.size());
    std::vector<Datum> values(nargs);
    std::vector<char> nulls(nargs, ' ');
    for (int i = 0; i < nargs; i++) {
        if (!t.params[i]) {
            nulls[i] = 'n';
            continue;
        }
        const char *text = t.params[i]->c_str();
        Oid type = t.param_types[i];
        values[i] = pg::call([&] {
            Oid input, ioparam;
            getTypeInputInfo(type, &input, &ioparam);
            return OidInputFunctionCall(input, const_cast<char *>(text), ioparam, -1);
        });
    }
    for (const std::string &one : t.statements) {
        // Several statements: each on its own (the last one's result counts, as documented).
        const char *text = one.c_str();
        int rc1 = pg::call([&] { return SPI_execute(text, read_only, 0); });
        if (rc1 < 0) throw PgError(sqlstate::internal_error, "SPI_execute failed");
        t.rows_affected += static_cast<int64_t>(SPI_processed);
        t.statement_rows.push_back(static_cast<int64_t>(SPI_processed));
    }
    if (!t.statements.empty()) return;
    int rc = pg::call([&] {
        return nargs == 0 ? SPI_execute(sql, read_only, 0)
                          : SPI_execute_with_args(sql, nargs, t.param_types.data(), values.data(), nulls.data(),
                                                  read_only, 0);
    });
    // SELECT, or INSERT / UPDATE / DELETE ... RETURNING.
    if (rc < 0 || !SPI_tuptable) {
        t.rows_affected += static_cast<int64_t>(SPI_processed);
        return;
    }
    TupleDesc desc = SPI_tuptable->tupdesc;
    const int ncols = desc->natts;
    const uint64 nrows = SPI_processed;
    PGresult *res = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
    if (!res) throw std::bad_alloc();
    struct Clear {
        PGresult *r;
        ~Clear() { PQclear(r); }
    } clear{res};
    std::vector<PGresAttDesc> attrs(ncols);
    for (int c = 0; c < ncols; c++) {
        Form_pg_attribute a = TupleDescAttr(desc, c);
        attrs[c] = {NameStr(a->attname), InvalidOid, 0, 0, a->atttypid, a->attlen, a->atttypmod};
    }
    if (ncols > 0 && !PQsetResultAttrs(res, ncols, attrs.data())) throw std::bad_alloc();
    for (uint64 r = 0; r < nrows; r++) {
        HeapTuple tup = SPI_tuptable->vals[r];
        for (int c = 0; c < ncols; c++) {
            char *v = pg::call([&] { return SPI_getvalue(tup, desc, c + 1); });
            if (!PQsetvalue(res, static_cast<int>(r), c, v, v ? static_cast<int>(strlen(v)) : -1))
                throw std::bad_alloc();
            if (v) pfree(v);
        }
    }
    t.rows_affected += static_cast<int64_t>(nrows);
    if (t.on_rows) t.on_rows(res);
}

}  // namespace

bool must_run_locally(int nodeid) { return xact::wrote_locally() && metadata::node(nodeid).is_coordinator; }

bool local_write_ok(int nodeid) {
    if (!metadata::node(nodeid).is_coordinator) return false;
    if (xact::wrote_locally()) return true;
    return local_execution_guc && !conn::node_written(nodeid);
}

bool local_read_ok(const metadata::DistTable &t, const std::vector<int> &shard_indexes) {
    if (shard_indexes.empty()) return false;
    int nodeid = t.shards[shard_indexes.front()].nodeid;
    if (must_run_locally(nodeid)) {
        // Whatever the size: our uncommitted rows are visible here only.
        for (int i : shard_indexes)
            if (t.shards[i].nodeid != nodeid) return false;
        return true;
    }
    if (!local_execution_guc) return false;
    if (!metadata::node(nodeid).is_coordinator || conn::node_written(nodeid)) return false;
    if (shard_indexes.size() == 1) return true;
    int64_t pages = 0;
    for (int i : shard_indexes) {
        const metadata::ShardInfo &s = t.shards[i];
        if (s.nodeid != nodeid) return false;
        std::string rel = metadata::shard_relname(t.relname, s.shardid);
        Oid nsp = pg::call([&] { return get_namespace_oid(t.schema.c_str(), true); });
        Oid relid = pg::call([&] { return get_relname_relid(rel.c_str(), nsp); });
        if (!OidIsValid(relid)) return false;
        pages += pg::call([&] {
            HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
            int32 p = HeapTupleIsValid(tup) ? ((Form_pg_class)GETSTRUCT(tup))->relpages : 0;
            if (HeapTupleIsValid(tup)) ReleaseSysCache(tup);
            return p;
        });
        if (pages > local_max_pages_guc) return false;
    }
    return true;
}

void define_gucs() {
    DefineCustomBoolVariable("rollup.enable_local_execution",
                             "Writes to shards held by the coordinator, and small reads of them, run in the "
                             "querying backend.",
                             "They skip the round trip over a loopback connection, and the local writes are "
                             "part of the coordinator's own transaction.", &local_execution_guc, true,
                             PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("rollup.local_execution_max_pages",
                            "Largest total size (in pages, by pg_class.relpages) of the coordinator's shards "
                            "that one read runs locally instead of over parallel connections.",
                            "0 (the default) keeps multi-shard reads on parallel connections: one backend "
                            "planning every shard's statement in turn is slower than two doing half each.",
                            &local_max_pages_guc, 0, 0, INT_MAX, PGC_USERSET, 0, NULL, NULL, NULL);
}

void execute(std::vector<Task> &all_tasks) {
    if (all_tasks.empty()) return;
    // Once this transaction wrote the coordinator's shards in this backend, nothing may reach them
    // through a connection: it would not see those rows, and would wait on our locks forever.
    if (xact::wrote_locally())
        for (Task &t : all_tasks)
            if (!t.local && metadata::node(t.nodeid).is_coordinator) t.local = true;
    std::vector<Task *> local_tasks;
    std::vector<Task> remote_tasks_storage;
    bool any_local = false;
    for (Task &t : all_tasks) any_local = any_local || t.local;
    if (any_local) {
        // Remote tasks start first; local ones run while the nodes work; then we wait for the nodes.
        std::vector<Task *> remote;
        for (Task &t : all_tasks) (t.local ? local_tasks : remote).push_back(&t);
        execute_refs(remote, [&] {
            for (Task *t : local_tasks) run_local(*t);
        });
        return;
    }
    std::vector<Task *> refs;
    for (Task &t : all_tasks) refs.push_back(&t);
    execute_refs(refs, [] {});
}

void execute_refs(std::vector<Task *> &tasks, const std::function<void()> &while_running) {
    if (tasks.empty()) {
        while_running();
        return;
    }
    // Assign connections.
    std::map<int, int> per_node_count;
    for (Task *tp : tasks) per_node_count[tp->nodeid]++;
    std::map<int, int> rr;
    std::map<std::pair<int, int>, std::unique_ptr<Lane>> lanes;
    for (Task *tp : tasks) {
        Task &t = *tp;
        int slots = std::min(conn::max_connections_per_node(), per_node_count[t.nodeid]);
        int slot = 0;
        // Reads spread over several connections only outside transaction blocks: inside one, a node
        // is reached through one connection (slot 0), so the transaction holds its locks and its
        // snapshot (REPEATABLE READ) in one place, and its own DDL never waits for its other
        // connection's locks.
        if (((!t.write && !conn::node_written(t.nodeid)) || t.spread) && !IsTransactionBlock() &&
            (t.spread || !xact::force_remote_transactions()))
            slot = rr[t.nodeid]++ % slots;
        auto &lane = lanes[{t.nodeid, slot}];
        if (!lane) {
            lane = std::make_unique<Lane>();
            lane->c = &conn::acquire(t.nodeid, slot);
            if (lane->c->claimed)
                throw PgError(sqlstate::feature_not_supported,
                              "a distributed statement cannot run while another one is reading from the same "
                              "node connection",
                              "", "Fetch the outer query's rows first (e.g. into a temporary table).");
        }
        lane->queue.push_back(&t);
    }

    struct Claims {
        std::vector<Lane *> lanes;
        bool ok = false;
        ~Claims() {
            for (Lane *l : lanes) {
                if (!l->c) continue;
                l->c->claimed = false;
                if (!ok && l->current) {
                    // Interrupted or failed mid-query: the connection's state is unknown.
                    xact::connection_lost(*l->c);
                    conn::discard(*l->c);
                }
            }
        }
    } claims;
    for (auto &kv : lanes) {
        kv.second->c->claimed = true;
        claims.lanes.push_back(kv.second.get());
    }

    std::optional<PgError> first_error;
    int busy = 0;

    auto send_next = [&](Lane &l) -> bool {
        if (first_error || l.queue.empty()) return false;
        Task *t = l.queue.front();
        l.queue.pop_front();
        l.current = t;
        l.steps = plan_steps(*t, *l.c);
        busy++;
        start_task(l);
        return true;
    };

    for (Lane *l : claims.lanes) {
        PQsetnonblocking(l->c->pg, 1);
        send_next(*l);
    }
    while_running();

    // The set holds the sockets of the lanes with a query running; it is rebuilt when a lane is done,
    // so that an idle socket (which may turn readable, e.g. at disconnect) never wakes us in a loop.
    WaitSet ws;
    int armed = -1;
    auto rebuild = [&] {
        if (ws.set) {
            FreeWaitEventSet(ws.set);
            ws.set = nullptr;
        }
        int active = 0;
        for (Lane *l : claims.lanes)
            if (l->current) active++;
        ws.set = pg::call([&] { return CreateWaitEventSet(CurrentMemoryContext, active + 2); });
        for (Lane *l : claims.lanes) {
            l->event_pos = -1;
            if (!l->current) continue;
            int sock = PQsocket(l->c->pg);
            uint32 ev = l->flushing ? (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE) : WL_SOCKET_READABLE;
            l->event_pos = pg::call([&] { return AddWaitEventToSet(ws.set, ev, sock, NULL, l); });
            l->armed_for_write = l->flushing;
        }
        pg::call([&] { AddWaitEventToSet(ws.set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL); });
        pg::call([&] { AddWaitEventToSet(ws.set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL); });
        armed = active;
    };

    // Drains what a connection has ready; returns when it would block or the task is done.
    auto consume = [&](Lane &l) {
        if (!PQconsumeInput(l.c->pg)) {
            // Connection broke mid-task.
            Task *t = l.current;
            l.current = nullptr;
            busy--;
            if (!first_error) {
                try {
                    conn::throw_remote_error(*l.c, nullptr);
                } catch (PgError &e) {
                    first_error = e;
                }
            }
            (void)t;
            xact::connection_lost(*l.c);
            return;
        }
        while (l.current && !PQisBusy(l.c->pg)) {
            PGresult *res = PQgetResult(l.c->pg);
            if (!res) {
                // The current step's results are complete.
                if (l.pipelined) {
                    l.step++;  // the next results are the next step's, then the sync's
                    continue;
                }
                if (!first_error && l.step + 1 < l.steps.size()) {
                    l.step++;
                    send_next_step(l);
                    continue;
                }
                l.current = nullptr;
                busy--;
                if (!send_next(l)) break;
                continue;
            }
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_PIPELINE_SYNC) {  // the pipelined task is complete
                PQclear(res);
                if (!PQexitPipelineMode(l.c->pg)) conn::throw_remote_error(*l.c, nullptr);
                l.pipelined = false;
                l.current = nullptr;
                busy--;
                if (!send_next(l)) break;
                continue;
            }
            if (st == PGRES_PIPELINE_ABORTED) {  // a step after a failed one: never ran
                PQclear(res);
                continue;
            }
            const Step *step = l.step < l.steps.size() ? &l.steps[l.step] : nullptr;
            if (step && step->prefix && st == PGRES_COMMAND_OK) {  // BEGIN, SET
                PQclear(res);
                continue;
            }
            if (step && step->kind == Step::Prepare && st == PGRES_COMMAND_OK) {
                l.c->prepared[step->text] = step->name;
                PQclear(res);
                continue;
            }
            switch (st) {
                case PGRES_COMMAND_OK: {
                    const char *n = PQcmdTuples(res);
                    const int64_t rows = n && *n ? std::stoll(n) : 0;
                    l.current->rows_affected += rows;
                    if (!l.current->statements.empty()) l.current->statement_rows.push_back(rows);
                    PQclear(res);
                    break;
                }
                case PGRES_TUPLES_OK:
                case PGRES_SINGLE_TUPLE: {
                    struct Clear {
                        PGresult *r;
                        ~Clear() { PQclear(r); }
                    } guard{res};
                    if (!first_error && l.current->on_rows) l.current->on_rows(res);
                    if (st == PGRES_TUPLES_OK) {
                        const char *n = PQcmdTuples(res);
                        if (n && *n) l.current->rows_affected += std::stoll(n);
                    }
                    break;
                }
                default: {
                    if (l.c->xact == conn::RemoteXact::Begun) l.c->xact = conn::RemoteXact::Failed;
                    // A failed statement undoes the SETs of its implicit transaction (or pipeline):
                    // what the node's session has is unknown, send the settings again next time.
                    l.c->settings.clear();
                    if (!first_error) {
                        try {
                            conn::throw_remote_error(*l.c, res);
                        } catch (PgError &e) {
                            first_error = e;
                        }
                        // Stop the others: their results no longer matter.
                        for (Lane *o : claims.lanes)
                            if (o != &l && o->current)
                                if (PGcancel *cancel = PQgetCancel(o->c->pg)) {
                                    char buf[256];
                                    PQcancel(cancel, buf, sizeof buf);
                                    PQfreeCancel(cancel);
                                }
                    } else {
                        PQclear(res);
                    }
                    for (Lane *o : claims.lanes) o->queue.clear();
                    break;
                }
            }
        }
    };

    WaitEvent events[64];
    // Waiting longer than deadlock_timeout for nodes: look for a distributed deadlock (then again
    // every deadlock_timeout), as PostgreSQL's own detector does for local lock waits.
    xact::reset_deadlock_check();
    const long check_after_ms = std::max(DeadlockTimeout, 100);
    while (busy > 0) {
        if (armed != busy) rebuild();
        int n = pg::call([&] {
            return WaitEventSetWait(ws.set, check_after_ms, events, lengthof(events), PG_WAIT_EXTENSION);
        });
        if (n == 0) {
            xact::check_distributed_deadlock();
            continue;
        }
        for (int i = 0; i < n; i++) {
            WaitEvent &e = events[i];
            if (e.events & WL_LATCH_SET) {
                ResetLatch(MyLatch);
                pg::call([] { CHECK_FOR_INTERRUPTS(); });
                continue;
            }
            Lane *l = static_cast<Lane *>(e.user_data);
            if (!l || !l->current) continue;
            if (l->flushing && (e.events & WL_SOCKET_WRITEABLE)) {
                int f = PQflush(l->c->pg);
                if (f < 0) conn::throw_remote_error(*l->c, nullptr);
                l->flushing = f == 1;
            }
            if (e.events & WL_SOCKET_READABLE) consume(*l);
        }
        // Re-arm the sockets still in use (a lane that started its next task may need flushing).
        for (Lane *l : claims.lanes) {
            if (l->event_pos < 0 || !l->current || l->armed_for_write == l->flushing) continue;
            uint32 ev = l->flushing ? (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE) : WL_SOCKET_READABLE;
            pg::call([&] { ModifyWaitEvent(ws.set, l->event_pos, ev, NULL); });
            l->armed_for_write = l->flushing;
        }
    }
    claims.ok = true;
    if (first_error) throw *first_error;
}

namespace {
// Whether a connection of this backend to the node is inside a remote transaction (its locks and
// rows are there: what follows must go through it).
bool in_remote_transaction(int nodeid) {
    for (conn::Connection *c : conn::all())
        if (c->nodeid == nodeid && c->xact != conn::RemoteXact::None) return true;
    return false;
}
}  // namespace

void execute_on_nodes(const std::vector<int> &nodeids, const std::string &sql, bool write) {
    std::vector<Task> tasks;
    for (int id : nodeids) {
        Task t;
        t.nodeid = id;
        t.sql = sql;
        t.write = write;
        tasks.push_back(std::move(t));
    }
    execute(tasks);
}

void execute_per_node(const std::map<int, Statements> &statements_by_node, bool write, bool coordinator_here) {
    std::vector<Task> tasks;
    for (const auto &kv : statements_by_node) {
        if (kv.second.empty()) continue;
        Task t;
        t.nodeid = kv.first;
        t.statements = kv.second;
        t.write = write;
        t.local = coordinator_here && metadata::node(kv.first).is_coordinator && !in_remote_transaction(kv.first);
        tasks.push_back(std::move(t));
    }
    execute(tasks);
}

}  // namespace rollup::exec
