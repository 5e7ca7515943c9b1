// ShardRouter: routes the rows of one write (INSERT, COPY FROM, INSERT ... SELECT through the
// coordinator) to the shards of a distributed table.
//
// Design note. Rows are first kept as they come (a few): at finish() they become one multi-row
// `INSERT INTO shard VALUES ...` per shard, all shards of a node in one round trip (a single-row
// INSERT costs one round trip, and none more when it may autocommit on its node). When the batch
// grows past kStatementRows rows, the router switches to streaming: rows are encoded for COPY
// (binary when every column type is built in, text otherwise) into one buffer per shard, and a
// node's largest buffer is shipped whenever the node's buffers together pass a threshold. Shipping
// is pipelined: COPY of one chunk is ended without waiting for its result, so the node stores it
// while we parse and route the next rows; we wait only before the next COPY on that connection
// (one COPY at a time per connection). Every COPY runs inside the node's remote transaction
// (BEGIN is sent in the same round trip), committed with the coordinator's transaction.
//
// Shards on the coordinator itself are written in this backend when exec::local_write_ok() says so
// (decided once per router): rows go straight into the shard relations through a
// LocalShardInserter (see local_insert.hpp), or, for shards it cannot write directly and for ON
// CONFLICT, become INSERT statements run here through SPI (one task per shard and 1000 rows). A
// batch with local rows never autocommits on a node: the coordinator's commit decides.
//
// Must never: leave a connection in COPY state in the pool (the destructor discards it and marks
// the transaction as unable to commit), or store a row whose distribution value is NULL.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "executor/local_insert.hpp"
#include "metadata/metadata_cache.hpp"

namespace rollup::exec {

class ShardRouter {
public:
    // `desc` describes the rows given to add() (the distributed table's own descriptor: dropped
    // columns are skipped). `may_autocommit`: the write is the whole coordinator transaction, so a
    // batch that lands on one node may commit there by itself.
    ShardRouter(const metadata::DistTable &table, TupleDesc desc, bool may_autocommit);
    ~ShardRouter();
    ShardRouter(const ShardRouter &) = delete;
    ShardRouter &operator=(const ShardRouter &) = delete;

    // Routes one row (values/nulls indexed like desc's attributes). May ship data to nodes.
    void add(const Datum *values, const bool *nulls);
    // Stores the rows buffered for the coordinator's own shards (COPY calls it while its error
    // context still names lines; finish() does it otherwise).
    void flush_local();
    // Ships everything; returns the number of rows the shards reported stored.
    uint64_t finish();
    uint64_t rows_added() const { return rows_added_; }

    // Rows as parameters: the whole statement for `nrows` rows of one shard, whose values are the
    // parameters $1, $2, ... row after row in column order (INSERT ... ON CONFLICT ... RETURNING,
    // printed from the tree by the deparser). When set the router never streams (COPY cannot do
    // ON CONFLICT) and sends statements of at most kStatementRows rows as rows come.
    std::function<std::string(int shard_index, int nrows)> rows_statement;
    // Receives result rows of those statements (RETURNING).
    std::function<void(PGresult *)> on_rows;
    // COPY only: the COPY the rows come from (rows stored locally in batches report their own line
    // on errors).
    CopyFromState copy_state = nullptr;

    struct Column;
    struct NodeStream;

private:
    void ensure_columns();
    HeapTuple keep_row(const Datum *values, const bool *nulls);
    void switch_to_streaming();
    void encode(int shard_index, const Datum *values, const bool *nulls);
    void after_append(int shard_index);
    void ship(int shard_index);
    void wait_copy(NodeStream &ns);
    uint64_t finish_statements();
    uint64_t run_row_statements(bool last);

    const metadata::DistTable &table_;
    TupleDesc desc_;
    bool may_autocommit_;
    bool binary_ = true;
    bool streaming_ = false;
    bool done_ = false;
    std::vector<Column> columns_;
    std::string column_list_;
    int dist_att_ = -1;  // 0-based index in desc
    MemoryContext cxt_ = nullptr;      // pending tuples and shard buffers
    MemoryContext row_cxt_ = nullptr;  // reset after each encoded row
    std::vector<std::pair<int, HeapTuple>> pending_;
    std::vector<StringInfo> buffers_;  // per shard (streaming)
    std::vector<int> shard_stream_;    // shard index -> index in streams_
    std::vector<NodeStream> streams_;
    uint64_t rows_added_ = 0;
    uint64_t rows_stored_ = 0;
    uint64_t row_statements_stored_ = 0;  // by run_row_statements before the last batch
    bool row_statements_sent_ = false;
    bool columns_ready_ = false;
    int local_node_ = -1;  // node whose shards are written in this backend (the coordinator), or -1
    // Time columns bucketed by rollups of this table (0-based in desc) and the spans written per
    // shard, handed to the rollup engine at finish() (rollup/invalidations.hpp). Empty: no rollup.
    std::vector<std::pair<int, AttrNumber>> time_atts_;
    std::vector<std::vector<core::WriteSpan>> spans_;
    std::unique_ptr<LocalShardInserter> local_;
    std::vector<std::pair<int, HeapTuple>> local_pending_;  // local rows that go through statements
};

// A value as an SQL literal ('...' or E'...').
std::string sql_literal(const char *value);

}  // namespace rollup::exec
