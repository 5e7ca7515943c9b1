// Pooled libpq connections to the nodes, one pool per backend, kept across transactions.
// A connection is identified by (node, slot, user). Rule that keeps reads consistent with writes:
// within a coordinator transaction every write to a node goes through slot 0, and once slot 0 of a
// node has written, every later statement of that transaction reaches the node through slot 0.
// Hence one node is written through one connection per transaction (no 2PC in single-node mode).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "pg/guard.hpp"
#include "pg/pinned_settings.hpp"

namespace rollup::conn {

enum class RemoteXact { None, Begun, Failed, Prepared };

struct Connection {
    PGconn *pg = nullptr;
    int nodeid = 0;
    int slot = 0;
    Oid userid = InvalidOid;
    RemoteXact xact = RemoteXact::None;
    bool wrote = false;     // wrote in the current coordinator transaction
    bool claimed = false;   // a statement is using it right now
    std::string gid;        // set while prepared
    std::string address;    // host:port, for messages
    std::map<std::string, std::string> settings;  // forwarded settings as last sent to the node's session
    SubTransactionId begun_subxact = InvalidSubTransactionId;  // where the remote BEGIN happened
    std::vector<SubTransactionId> savepoints;                   // remote savepoints, innermost last
    std::map<std::string, std::string> prepared;                // statement text -> prepared name
    std::map<std::string, uint64_t> prepared_used;              // statement text -> last use (LRU)
    uint64_t use_clock = 0;
    int next_statement = 0;
};

// Statements to send before a statement so that the node's session evaluates and waits like ours
// (TimeZone, default_text_search_config, lock_timeout); none when nothing changed.
std::vector<std::string> session_sync_statements(Connection &c);

// Text output of values in a style every node reads back exactly (pg/pinned_settings.hpp).
using CanonicalOutputStyle = pg::CanonicalOutputStyle;

// The BEGIN of a remote transaction, at the coordinator transaction's isolation level: READ
// COMMITTED, or REPEATABLE READ (each node keeps one snapshot for the transaction; there is no
// snapshot common to all nodes). SERIALIZABLE is refused (0A000): per-node serializability does not
// make the whole transaction serializable.
std::string begin_statement();

// Returns a connected connection (connecting, blocking, if needed).
Connection &acquire(int nodeid, int slot);
// The connection writes to a node go through (slot 0); throws if a statement is reading from it
// or its remote transaction has failed.
Connection &acquire_for_write(int nodeid);
// The slot a statement may use on a node: slot 0 once the node was written in this transaction.
bool node_written(int nodeid);
// All pooled connections.
std::vector<Connection *> all();
int open_count();
// Closes one connection (cancelling any running query) and forgets it.
void discard(Connection &c);
void close_all();

// For transaction callbacks, which may neither block forever nor throw: runs one statement and
// returns its last result (caller PQclears), or nullptr when it could not be sent, the connection
// broke, or no answer came within rollup.node_connect_timeout (then the connection's state is
// unknown: discard it). Waits on the latch without processing interrupts.
PGresult *exec_bounded(Connection &c, const char *sql);

// Sends one statement (extended protocol, parameters as text) without waiting for its results: the
// connection is switched to non-blocking mode (get_result flushes); throws when it cannot be sent.
void send(Connection &c, const char *sql, int nparams = 0, const char *const *values = nullptr);

// Sends a query and checks its result (for control commands). Waits on the latch too, so that
// cancel and statement_timeout interrupt it; an interrupted connection is dropped.
void exec_control(Connection &c, const std::string &sql);
// Reads every result of the query running on c (interruptibly) and returns the rows its commands
// reported (PQcmdTuples). The first error result is thrown once all are read; with mark_failed, a
// remote transaction block on c is marked failed first.
uint64_t finish_command(Connection &c, bool mark_failed);
// COPY ... FROM STDIN data and end, flushing when libpq's buffer is full; on failure the remote
// transaction is marked failed and the error thrown.
void put_copy_data(Connection &c, const char *data, size_t len);
void end_copy(Connection &c);
// The next result of the running query (nullptr when done), waiting interruptibly.
PGresult *get_result(Connection &c);
// Flushes what libpq has buffered for the node, waiting interruptibly.
void flush(Connection &c);
// Turns a failed PGresult (or the connection's error) into a PgError naming the node.
[[noreturn]] void throw_remote_error(Connection &c, PGresult *res);

int max_connections_per_node();
void define_gucs();

}  // namespace rollup::conn
