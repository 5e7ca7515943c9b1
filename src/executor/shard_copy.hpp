// Routes rows to the shards of a distributed table and stores them with COPY, in batches:
// one buffer per shard, sent when it is large enough and at finish(). Used by INSERT, COPY FROM,
// INSERT ... SELECT through the coordinator and create_distributed_table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "metadata/metadata_cache.hpp"

namespace rollup::exec {

class ShardCopySink {
public:
    // `desc` describes the rows given to add(); `columns` are the attribute numbers (1-based, in
    // desc) sent to the shards, named `names` there.
    ShardCopySink(const metadata::DistTable &table, TupleDesc desc);
    ~ShardCopySink();
    ShardCopySink(const ShardCopySink &) = delete;

    // Routes one row (values/nulls indexed like desc's attributes). Returns the shard index.
    int add(const Datum *values, const bool *nulls);
    // Sends what is buffered; returns the number of rows the shards reported stored.
    uint64_t finish();
    uint64_t rows_added() const { return rows_added_; }

private:
    void flush(int shard_index);

    const metadata::DistTable &table_;
    TupleDesc desc_;
    std::vector<int> attnums_;
    std::vector<FmgrInfo> out_funcs_;
    std::string column_list_;
    std::vector<std::string> buffers_;
    uint64_t rows_added_ = 0;
    uint64_t rows_stored_ = 0;
    int dist_index_ = -1;  // index of the distribution column in attnums_
};

// The connection that writes to a node in this transaction (slot 0), inside a remote transaction.
conn::Connection &connection_for_write(int nodeid);

// Escapes a value for COPY's text format and appends it.
void append_copy_text(std::string &out, const char *value);

}  // namespace rollup::exec
