// Local execution of writes: rows bound for shards that live on the coordinator itself are stored
// by this backend, in its own transaction, without a loopback connection (Citus's "local
// execution").
//
// Design note.
//  * When. A write runs locally when its shards are on the coordinator node and
//    exec::local_write_ok() says so: rollup.enable_local_execution is on and no connection wrote
//    to the coordinator in this transaction (a local statement could not see that connection's
//    uncommitted rows), or the transaction already wrote locally. The first local write sets
//    xact::note_local_write(); from then on, until commit or abort, everything that touches the
//    coordinator's shards runs here too: exec::execute() turns every task on the coordinator into
//    a local one (reads, UPDATE/DELETE, INSERT ... SELECT pushdown, DDL propagation), and
//    exec::local_read_ok() says yes to multi-shard reads whatever their size. A loopback backend
//    would neither see our uncommitted rows nor get past our locks (an undetected wait: it is not
//    a lock cycle PostgreSQL can see). The flag survives ROLLBACK TO SAVEPOINT: conservative.
//  * Atomicity. Local rows commit or abort with the coordinator's transaction, for free. A
//    transaction that wrote locally and to a worker uses two-phase commit on the worker even when
//    it is the only one (remote_transaction.cpp): prepared before our commit, committed after.
//  * How. INSERT / COPY rows (exec::ShardRouter) go straight into the shard relations: one
//    ResultRelInfo per shard opened on first use (RowExclusiveLock, INSERT privilege checked on the
//    shard like a node would), NOT NULL and CHECK constraints by ExecConstraints as each row
//    arrives, rows buffered in one batch for all shards (COPY's budget for one table: 1000 rows or
//    64 kB) and, when it is full, stored shard by shard with table_multi_insert (one row:
//    table_tuple_insert) through one bulk-insert buffer ring, then their index entries by
//    ExecInsertIndexTuples (UNIQUE / PRIMARY KEY violations raise the usual 23505, with the row's
//    line for COPY). No text formatting, no parse, no plan. A shard that has triggers (foreign
//    keys and deferred unique constraints are triggers too) or row-level security is not written
//    this way: its rows become INSERT statements run here through SPI, like ON CONFLICT inserts,
//    UPDATE and DELETE.
//  * Boundary. Everything that can ereport runs in the POD-only functions of local_insert.cpp, each
//    under one pg::call; the C++ object only holds a pointer to their palloc'd state. After an
//    error the relations and buffer pins are released by PostgreSQL's resource owners at abort,
//    and the state's memory context is deleted by the destructor.
//
// Must never: store a row that violates a constraint of the shard, write the shell table, or let
// a coordinator shard be reached through a connection after a local write in the transaction.
#pragma once
#include <cstdint>

#include "metadata/metadata_cache.hpp"

namespace rollup::exec {

struct LocalInsertState;

class LocalShardInserter {
public:
    // `row_desc` describes the rows given to add() (the shell's descriptor; columns are matched to
    // each shard's by name). The state lives in a child of `parent`, which must outlive this.
    LocalShardInserter(const metadata::DistTable &table, TupleDesc row_desc, MemoryContext parent);
    ~LocalShardInserter();
    LocalShardInserter(const LocalShardInserter &) = delete;
    LocalShardInserter &operator=(const LocalShardInserter &) = delete;

    // Opens the shard if needed; false when its rows must go through SQL statements instead
    // (triggers, row-level security).
    bool direct(int shard_index);
    // Rows come from this COPY: errors raised while a batch is stored name the failing row's line.
    void set_copy(CopyFromState copy);
    // Buffers one row (direct(shard_index) must have said yes); may store the batch.
    void add(int shard_index, const Datum *values, const bool *nulls);
    // Stores the batch now.
    void flush();
    // Stores the batch and closes the shards; returns the number of rows stored.
    uint64_t finish();

private:
    const metadata::DistTable &table_;
    LocalInsertState *st_ = nullptr;
    bool finished_ = false;
};

}  // namespace rollup::exec
