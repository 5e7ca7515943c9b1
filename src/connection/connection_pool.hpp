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
};

// Returns a connected connection (connecting, blocking, if needed).
Connection &acquire(int nodeid, int slot);
// The slot a statement may use on a node: slot 0 once the node was written in this transaction.
bool node_written(int nodeid);
// All pooled connections.
std::vector<Connection *> all();
int open_count();
// Closes one connection (cancelling any running query) and forgets it.
void discard(Connection &c);
void close_all();

// Sends a query synchronously and checks its result (for short control commands).
void exec_control(Connection &c, const std::string &sql);
// Turns a failed PGresult (or the connection's error) into a PgError naming the node.
[[noreturn]] void throw_remote_error(Connection &c, PGresult *res);

int max_connections_per_node();
void define_gucs();

}  // namespace rollup::conn
