#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "connection/connection_pool.hpp"
#include "transaction/deadlock.hpp"
#include "metadata/metadata_cache.hpp"

namespace rollup::conn {
bool check_node_conninfo(char **newval);
}
extern "C" {
static bool rollup_check_node_conninfo(char **newval, void **extra, GucSource source) {
    return rollup::pg::guard([&] { return rollup::conn::check_node_conninfo(newval); });
}
}

namespace rollup::conn {

namespace {

using Key = std::tuple<int, int, Oid>;  // node, slot, user
std::map<Key, std::unique_ptr<Connection>> pool;

char *node_conninfo_guc = nullptr;
int max_per_node_guc = 2;
int connect_timeout_guc = 10;

std::string current_user_name() {
    Oid uid = GetUserId();
    return pg::call([&] { return GetUserNameFromId(uid, false); });
}

std::string current_db_name() {
    return pg::call([] { return get_database_name(MyDatabaseId); });
}

// Where the coordinator reaches itself: its first Unix socket directory, else loopback TCP.
std::string coordinator_host(const std::string &stored) {
    if (Unix_socket_directories && Unix_socket_directories[0]) {
        std::string dirs = Unix_socket_directories;
        std::string first = dirs.substr(0, dirs.find(','));
        while (!first.empty() && first.front() == ' ') first.erase(first.begin());
        while (!first.empty() && first.back() == ' ') first.pop_back();
        if (!first.empty() && first[0] == '/') return first;
    }
    return stored;
}

PGconn *connect(const metadata::NodeInfo &node) {
    std::vector<std::string> keys, vals;
    auto add = [&](const char *k, const std::string &v) {
        keys.emplace_back(k);
        vals.emplace_back(v);
    };
    add("host", node.is_coordinator ? coordinator_host(node.host) : node.host);
    add("port", std::to_string(node.is_coordinator ? PostPortNumber : node.port));
    add("dbname", current_db_name());
    add("user", current_user_name());
    // Tagged with this backend's pid: distributed deadlock detection maps node backends back to the
    // coordinator backends that own them (transaction/deadlock.hpp).
    add("application_name", xact::node_application_name());
    add("connect_timeout", std::to_string(connect_timeout_guc));
    add("client_encoding", GetDatabaseEncodingName());
    // Values cross the wire as text: make the node print them in a form we parse exactly.
    // Statements already run on every shard at once, several per node: parallel workers inside a
    // node session would only compete with them for the same cores.
    // search_path and standard_conforming_strings: statements for nodes name every object outside
    // pg_catalog by its schema and print literals for standard_conforming_strings = on (client
    // options win over a node database's or role's own settings)
    // (deparser/deparse.hpp), and nothing a node user created in another schema may stand in for a
    // pg_catalog function or operator they call.
    add("options", "-c DateStyle=ISO -c IntervalStyle=iso_8601 -c extra_float_digits=3 "
                   "-c max_parallel_workers_per_gather=0 -c search_path=pg_catalog "
                   "-c standard_conforming_strings=on -c bytea_output=hex -c array_nulls=on "
                   "-c transform_null_equals=off -c xmloption=content");
    if (node_conninfo_guc && node_conninfo_guc[0]) {
        char *err = nullptr;
        PQconninfoOption *opts = PQconninfoParse(node_conninfo_guc, &err);
        if (!opts) {
            std::string msg = err ? err : "invalid";
            if (err) PQfreemem(err);
            throw PgError(sqlstate::invalid_parameter_value, "invalid rollup.node_conninfo: " + msg);
        }
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (o->val) add(o->keyword, o->val);
        PQconninfoFree(opts);
    }
    std::vector<const char *> k, v;
    for (size_t i = 0; i < keys.size(); i++) {
        k.push_back(keys[i].c_str());
        v.push_back(vals[i].c_str());
    }
    k.push_back(nullptr);
    v.push_back(nullptr);
    // Asynchronous connect: cancel and statement_timeout work while a node is slow to answer, and a
    // node that never answers costs rollup.node_connect_timeout at most.
    PGconn *c = PQconnectStartParams(k.data(), v.data(), 0);
    if (c && PQstatus(c) != CONNECTION_BAD) {
        const TimestampTz deadline =
            TimestampTzPlusMilliseconds(GetCurrentTimestamp(), static_cast<int64>(connect_timeout_guc) * 1000);
        PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
        struct Finish {
            PGconn *&conn;
            bool armed = true;
            ~Finish() {
                if (armed && conn) PQfinish(conn);
            }
        } finish{c};
        while (poll != PGRES_POLLING_OK && poll != PGRES_POLLING_FAILED) {
            long left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
            if (left <= 0) break;
            int events = WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH |
                         (poll == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE);
            int sock = PQsocket(c);
            int rc = pg::call([&] { return WaitLatchOrSocket(MyLatch, events, sock, left, PG_WAIT_EXTENSION); });
            if (rc & WL_LATCH_SET) {
                ResetLatch(MyLatch);
                pg::call([] { CHECK_FOR_INTERRUPTS(); });
            }
            if (rc & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE)) poll = PQconnectPoll(c);
        }
        finish.armed = false;
        if (poll != PGRES_POLLING_OK && PQstatus(c) != CONNECTION_BAD) {
            PQfinish(c);
            throw PgError(sqlstate::connection_failure,
                          "could not connect to node " + node.host + ":" + std::to_string(node.port),
                          "timeout expired after rollup.node_connect_timeout",
                          "Check that the node is running and accepts connections from the coordinator.");
        }
    }
    if (!c || PQstatus(c) != CONNECTION_OK) {
        std::string msg = c ? PQerrorMessage(c) : "out of memory";
        if (c) PQfinish(c);
        while (!msg.empty() && msg.back() == '\n') msg.pop_back();
        throw PgError(sqlstate::connection_failure,
                      "could not connect to node " + node.host + ":" + std::to_string(node.port),
                      msg, "Check that the node is running and accepts connections from the coordinator.");
    }
    // Remote NOTICEs (e.g. "schema already exists, skipping") are not the user's business.
    PQsetNoticeProcessor(c, [](void *, const char *) {}, nullptr);
    return c;
}

}  // namespace

std::string begin_statement() {
    if (IsolationIsSerializable())
        throw PgError(sqlstate::feature_not_supported,
                      "SERIALIZABLE transactions cannot use distributed tables",
                      "Each node would be serializable on its own, which does not make the transaction serializable.",
                      "Use REPEATABLE READ (one snapshot per node) or READ COMMITTED.");
    return IsolationUsesXactSnapshot() ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN ISOLATION LEVEL READ COMMITTED";
}

Connection &acquire(int nodeid, int slot) {
    Oid uid = GetUserId();
    // Within a transaction a node is reached as one role: a second connection as another role (after
    // SET ROLE, inside a SECURITY DEFINER function) would not see the first one's uncommitted rows
    // and could wait on its locks forever, unseen by any deadlock detector.
    for (auto &kv : pool) {
        const Connection &other = *kv.second;
        if (other.nodeid == nodeid && other.userid != uid && other.xact != RemoteXact::None) {
            std::string before = pg::call([&] { return std::string(GetUserNameFromId(other.userid, true) ?: "?"); });
            std::string now = pg::call([&] { return std::string(GetUserNameFromId(uid, true) ?: "?"); });
            throw PgError(sqlstate::feature_not_supported,
                          "cannot use distributed tables as role \"" + now + "\" in a transaction that used them as role \"" +
                              before + "\"",
                          "The transaction's remote part already reaches that node as \"" + before + "\".",
                          "Use distributed tables as one role per transaction (SET ROLE and SECURITY DEFINER "
                          "functions change the role).");
        }
    }
    Key key{nodeid, slot, uid};
    auto it = pool.find(key);
    if (it != pool.end()) {
        Connection &c = *it->second;
        if (PQstatus(c.pg) == CONNECTION_OK) return c;
        if (c.xact != RemoteXact::None)
            throw PgError(sqlstate::connection_failure, "connection to node " + c.address + " was lost",
                          "The remote transaction on that node is gone.");
        PQfinish(c.pg);
        pool.erase(it);
    }
    const metadata::NodeInfo &node = metadata::node(nodeid);
    auto c = std::make_unique<Connection>();
    c->nodeid = nodeid;
    c->slot = slot;
    c->userid = uid;
    c->address = node.host + ":" + std::to_string(node.port);
    c->pg = connect(node);
    Connection &ref = *c;
    pool[key] = std::move(c);
    return ref;
}

Connection &acquire_for_write(int nodeid) {
    Connection &c = acquire(nodeid, 0);
    if (c.claimed)
        throw PgError(sqlstate::feature_not_supported,
                      "cannot write to node " + c.address + " while a statement is reading from it");
    if (c.xact == RemoteXact::Failed)
        throw PgError(sqlstate::object_not_in_prerequisite_state, "current transaction is aborted on node " + c.address);
    return c;
}

bool node_written(int nodeid) {
    Oid uid = GetUserId();
    auto it = pool.find(Key{nodeid, 0, uid});
    return it != pool.end() && it->second->wrote;
}

std::vector<Connection *> all() {
    std::vector<Connection *> out;
    for (auto &kv : pool) out.push_back(kv.second.get());
    return out;
}

int open_count() { return static_cast<int>(pool.size()); }

void discard(Connection &c) {
    if (c.pg) {
        if (PQtransactionStatus(c.pg) == PQTRANS_ACTIVE) {
            if (PGcancel *cancel = PQgetCancel(c.pg)) {
                char buf[256];
                PQcancel(cancel, buf, sizeof buf);
                PQfreeCancel(cancel);
            }
        }
        PQfinish(c.pg);
        c.pg = nullptr;
    }
    for (auto it = pool.begin(); it != pool.end(); ++it)
        if (it->second.get() == &c) {
            pool.erase(it);
            return;
        }
}

void close_all() {
    for (auto &kv : pool)
        if (kv.second->pg) PQfinish(kv.second->pg);
    pool.clear();
}

void throw_remote_error(Connection &c, PGresult *res) {
    std::string msg, detail, hint, state;
    if (res) {
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char *d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        const char *h = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
        const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        msg = m ? m : PQresultErrorMessage(res);
        detail = d ? d : "";
        hint = h ? h : "";
        state = s ? s : "";
    }
    if (msg.empty()) {
        msg = PQerrorMessage(c.pg);
        if (msg.empty()) msg = "unknown error";
    }
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    int code = sqlstate::connection_failure;
    if (state.size() == 5) code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
    else if (PQstatus(c.pg) == CONNECTION_OK) code = sqlstate::internal_error;
    if (res) PQclear(res);
    throw PgError(code, msg, detail, hint, "while executing command on " + c.address);
}

namespace {

// Waits for the socket (or the latch: then interrupts are checked, which may throw).
void wait_socket(Connection &c, bool for_write) {
    int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (for_write ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE);
    int sock = PQsocket(c.pg);
    int rc = pg::call([&] { return WaitLatchOrSocket(MyLatch, events, sock, -1, PG_WAIT_EXTENSION); });
    if (rc & WL_LATCH_SET) {
        ResetLatch(MyLatch);
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
    }
}

// An interrupt while a query runs leaves the connection in an unknown state: drop it.
template <typename Fn>
auto interruptible(Connection &c, Fn &&fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (...) {
        if (c.xact != RemoteXact::None) {
            // The remote transaction dies with the connection; the caller's transaction aborts.
            c.xact = RemoteXact::Failed;
        }
        discard(c);
        throw;
    }
}

}  // namespace

void flush(Connection &c) {
    PQsetnonblocking(c.pg, 1);
    interruptible(c, [&] {
        for (;;) {
            int f = PQflush(c.pg);
            if (f == 0) return;
            if (f < 0) throw_remote_error(c, nullptr);
            wait_socket(c, true);
        }
    });
}

PGresult *get_result(Connection &c) {
    flush(c);
    return interruptible(c, [&]() -> PGresult * {
        while (PQisBusy(c.pg)) {
            wait_socket(c, false);
            if (!PQconsumeInput(c.pg)) throw_remote_error(c, nullptr);
        }
        return PQgetResult(c.pg);
    });
}

PGresult *exec_bounded(Connection &c, const char *sql) {
    PQsetnonblocking(c.pg, 1);
    if (!PQsendQueryParams(c.pg, sql, 0, nullptr, nullptr, nullptr, nullptr, 0)) return nullptr;
    const TimestampTz deadline =
        TimestampTzPlusMilliseconds(GetCurrentTimestamp(), static_cast<int64>(connect_timeout_guc) * 1000);
    PGresult *last = nullptr;
    for (;;) {
        int f = PQflush(c.pg);
        if (f < 0) break;
        if (f == 0 && !PQisBusy(c.pg)) {
            PGresult *res = PQgetResult(c.pg);
            if (!res) return last;
            if (last) PQclear(last);
            last = res;
            continue;
        }
        long left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
        if (left <= 0) break;
        int events = WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | WL_SOCKET_READABLE |
                     (f == 1 ? WL_SOCKET_WRITEABLE : 0);
        int rc = WaitLatchOrSocket(MyLatch, events, PQsocket(c.pg), left, PG_WAIT_EXTENSION);
        if (rc & WL_LATCH_SET) ResetLatch(MyLatch);  // no interrupt processing: callers may not throw
        if ((rc & WL_SOCKET_READABLE) && !PQconsumeInput(c.pg)) break;
    }
    if (last) PQclear(last);
    return nullptr;
}

uint64_t finish_command(Connection &c, bool mark_failed) {
    uint64_t rows = 0;
    PGresult *err = nullptr;
    while (PGresult *res = get_result(c)) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            const char *n = PQcmdTuples(res);
            if (n && *n) rows += std::stoull(n);
            PQclear(res);
        } else if (!err) {
            err = res;
        } else {
            PQclear(res);
        }
    }
    if (err) {
        if (mark_failed) c.xact = RemoteXact::Failed;
        throw_remote_error(c, err);
    }
    return rows;
}

void put_copy_data(Connection &c, const char *data, size_t len) {
    int r;
    while ((r = PQputCopyData(c.pg, data, static_cast<int>(len))) == 0) flush(c);
    if (r < 0) {
        c.xact = RemoteXact::Failed;
        throw_remote_error(c, nullptr);
    }
}

void end_copy(Connection &c) {
    int r;
    while ((r = PQputCopyEnd(c.pg, nullptr)) == 0) flush(c);
    if (r < 0) {
        c.xact = RemoteXact::Failed;
        throw_remote_error(c, nullptr);
    }
}

void send(Connection &c, const char *sql, int nparams, const char *const *values) {
    PQsetnonblocking(c.pg, 1);
    // Extended protocol: exactly one statement.
    if (!PQsendQueryParams(c.pg, sql, nparams, nullptr, values, nullptr, nullptr, 0)) throw_remote_error(c, nullptr);
}

void exec_control(Connection &c, const std::string &sql) {
    send(c, sql.c_str());
    finish_command(c, false);
}

int max_connections_per_node() { return max_per_node_guc; }

namespace {
// Settings whose value changes what a shipped expression computes or how long a node waits, sent to
// a node session whenever ours differs from what it was last sent. (DateStyle, IntervalStyle,
// extra_float_digits and bytea_output stay canonical on the nodes: rows travel as text in that
// form, and expressions whose text depends on them are not shipped: planner/select_shippable.cpp.)
const char *const kForwarded[] = {"TimeZone", "default_text_search_config", "lock_timeout"};
}  // namespace

std::vector<std::string> session_sync_statements(Connection &c) {
    std::vector<std::string> out;
    for (size_t i = 0; i < sizeof(kForwarded) / sizeof(kForwarded[0]); i++) {
        const char *name = kForwarded[i];
        const char *value = pg::call([&] { return GetConfigOption(name, false, false); });
        if (!value) continue;
        std::string &sent = c.settings[name];
        if (sent == value) continue;
        sent = value;
        std::string lit = pg::call([&] { return std::string(quote_literal_cstr(value)); });
        out.push_back(std::string("SET ") + name + " TO " + lit);
    }
    return out;
}


// rollup.node_conninfo must parse, and may not change whose identity a node connection carries or
// where it goes: node sessions act as the current user in the database of the same name
// (docs/security.md).
bool check_node_conninfo(char **newval) {
    if (!*newval || !(*newval)[0]) return true;
    char *err = nullptr;
    PQconninfoOption *opts = PQconninfoParse(*newval, &err);
    if (!opts) {
        GUC_check_errmsg("invalid rollup.node_conninfo: %s", err ? err : "cannot be parsed");
        if (err) PQfreemem(err);
        return false;
    }
    static const char *const refused[] = {"user", "dbname", "service", "servicefile", "passfile", "host", "hostaddr",
                                          "port", "replication", "options"};
    const char *bad = nullptr;
    for (PQconninfoOption *o = opts; o->keyword && !bad; o++)
        if (o->val)
            for (const char *r : refused)
                if (strcmp(o->keyword, r) == 0) bad = r;
    PQconninfoFree(opts);
    if (bad) {
        GUC_check_errmsg("rollup.node_conninfo may not set \"%s\"", bad);
        GUC_check_errdetail("Node connections act as the current user, in the database of the same name, on the "
                            "node's registered host and port.");
        return false;
    }
    return true;
}

void define_gucs() {
    DefineCustomStringVariable("rollup.node_conninfo", "Extra libpq options for connections to nodes.",
                               "For example 'sslmode=require' or 'password=...'; keywords that change the "
                               "user, database, host, port or session options are refused.",
                               &node_conninfo_guc, "", PGC_SUSET, 0, rollup_check_node_conninfo, NULL, NULL);
    DefineCustomIntVariable("rollup.max_connections_per_node",
                            "Connections a statement may open to one node for parallel reads.", NULL,
                            &max_per_node_guc, 2, 1, 64, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("rollup.node_connect_timeout", "Seconds to wait when connecting to a node.",
                            NULL, &connect_timeout_guc, 10, 1, 3600, PGC_USERSET, GUC_UNIT_S, NULL, NULL,
                            NULL);
}

}  // namespace rollup::conn
