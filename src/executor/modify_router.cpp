#include <arpa/inet.h>

#include <map>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "pg/node_values.hpp"
#include "executor/modify_router.hpp"
#include "rollup/invalidations.hpp"
#include "executor/remote_exec.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::exec {

namespace {

constexpr size_t kStatementRows = 1000;         // larger batches stream with COPY
constexpr size_t kShardChunkBytes = 1 << 20;    // a shard buffer this large is shipped at once
constexpr size_t kNodeBufferBytes = 4 << 20;    // a node's buffers together: ship the largest

const char kBinaryHeader[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";  // signature, flags, extension
constexpr int kBinaryHeaderLen = 19;

}  // namespace

struct ShardRouter::Column {
    int att = 0;  // 0-based in desc
    FmgrInfo out;
    FmgrInfo send;
};

struct ShardRouter::NodeStream {
    int nodeid = 0;
    conn::Connection *c = nullptr;
    bool in_flight = false;  // a COPY was ended, its result not read yet
    size_t buffered = 0;     // bytes in the buffers of this node's shards
    std::vector<int> shards;
};

namespace {

// PODs only (runs under one pg::call per row).
void encode_binary(StringInfo buf, const ShardRouter::Column *cols, int ncols, const Datum *values,
                   const bool *nulls) {
    uint16_t n = htons(static_cast<uint16_t>(ncols));
    appendBinaryStringInfo(buf, reinterpret_cast<const char *>(&n), 2);
    for (int i = 0; i < ncols; i++) {
        int a = cols[i].att;
        if (nulls[a]) {
            uint32_t len = htonl(static_cast<uint32_t>(-1));
            appendBinaryStringInfo(buf, reinterpret_cast<const char *>(&len), 4);
            continue;
        }
        bytea *b = SendFunctionCall(const_cast<FmgrInfo *>(&cols[i].send), values[a]);
        uint32_t len = htonl(static_cast<uint32_t>(VARSIZE(b) - VARHDRSZ));
        appendBinaryStringInfo(buf, reinterpret_cast<const char *>(&len), 4);
        appendBinaryStringInfo(buf, VARDATA(b), VARSIZE(b) - VARHDRSZ);
    }
}

void encode_text(StringInfo buf, const ShardRouter::Column *cols, int ncols, const Datum *values,
                 const bool *nulls) {
    for (int i = 0; i < ncols; i++) {
        if (i) appendStringInfoChar(buf, '\t');
        int a = cols[i].att;
        if (nulls[a]) {
            appendBinaryStringInfo(buf, "\\N", 2);
            continue;
        }
        char *s = OutputFunctionCall(const_cast<FmgrInfo *>(&cols[i].out), values[a]);
        for (const char *p = s; *p; p++) {
            switch (*p) {
                case '\\': appendBinaryStringInfo(buf, "\\\\", 2); break;
                case '\n': appendBinaryStringInfo(buf, "\\n", 2); break;
                case '\r': appendBinaryStringInfo(buf, "\\r", 2); break;
                case '\t': appendBinaryStringInfo(buf, "\\t", 2); break;
                default: appendStringInfoChar(buf, *p);
            }
        }
    }
    appendStringInfoChar(buf, '\n');
}

bool still_pooled(conn::Connection *c) {
    for (conn::Connection *p : conn::all())
        if (p == c) return true;
    return false;
}

}  // namespace

std::string sql_literal(const char *v) {
    bool backslash = std::strchr(v, '\\') != nullptr;
    std::string out = backslash ? "E'" : "'";
    for (const char *p = v; *p; p++) {
        if (*p == '\'')
            out += "''";
        else if (*p == '\\')
            out += "\\\\";
        else
            out += *p;
    }
    out += '\'';
    return out;
}

ShardRouter::ShardRouter(const metadata::DistTable &table, TupleDesc desc, bool may_autocommit)
    : table_(table), desc_(desc), may_autocommit_(may_autocommit) {
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (!att->attisdropped && att->attnum == table.dist_attnum) dist_att_ = i;
    }
    if (dist_att_ < 0) throw PgError(sqlstate::internal_error, "distribution column missing from row");
    for (AttrNumber a : engine::tracked_time_columns(table.relid))
        for (int i = 0; i < desc->natts; i++)
            if (!TupleDescAttr(desc, i)->attisdropped && TupleDescAttr(desc, i)->attnum == a) time_atts_.emplace_back(i, a);
    if (!time_atts_.empty()) {
        spans_.assign(time_atts_.size(), std::vector<core::WriteSpan>(table.shard_count));
        // The rows' rollup invalidations are recorded at the coordinator's pre-commit: a node must not
        // commit them before (a failure there would leave committed rows without their record).
        may_autocommit_ = false;
    }
    cxt_ = pg::call([] {
        return AllocSetContextCreate(CurrentMemoryContext, "rollup router", ALLOCSET_DEFAULT_SIZES);
    });
    row_cxt_ = pg::call([&] { return AllocSetContextCreate(cxt_, "rollup router row", ALLOCSET_DEFAULT_SIZES); });
    std::map<int, int> stream_of_node;
    shard_stream_.resize(table.shard_count);
    for (int i = 0; i < table.shard_count; i++) {
        int nodeid = table.shards[i].nodeid;
        auto it = stream_of_node.find(nodeid);
        if (it == stream_of_node.end()) {
            it = stream_of_node.emplace(nodeid, static_cast<int>(streams_.size())).first;
            NodeStream ns;
            ns.nodeid = nodeid;
            streams_.push_back(ns);
            if (local_node_ < 0 && local_write_ok(nodeid)) local_node_ = nodeid;
        }
        shard_stream_[i] = it->second;
        streams_[it->second].shards.push_back(i);
    }
}

// What remote shipping and statements need (not made when every row is stored locally).
void ShardRouter::ensure_columns() {
    if (columns_ready_) return;
    columns_ready_ = true;
    TupleDesc desc = desc_;
    // Binary COPY sends values in the session's client encoding: only when that is the database's.
    binary_ = pg_get_client_encoding() == GetDatabaseEncoding();
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped) continue;
        Column col;
        col.att = i;
        Oid typid = att->atttypid;
        pg::call([&] { fmgr_info(pg::node_output_function(typid), &col.out); });
        // Binary only for built-in types: a user type's OID (inside array or record values) differs
        // on the nodes.
        // A type without a send function makes the whole COPY text (checked, not caught: an error
        // may only be swallowed inside a subtransaction).
        // Nor for xml: a node's xml_recv reads the bytes in the encoding the value's own declaration
        // names (UTF-8 without one), not the connection's; its text input ignores the declaration,
        // as the coordinator's did.
        const bool has_send = binary_ && typid < FirstNormalObjectId && typid != XMLOID && pg::call([&] {
            HeapTuple tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
            if (!HeapTupleIsValid(tup)) return false;
            const bool ok = OidIsValid(((Form_pg_type)GETSTRUCT(tup))->typsend);
            ReleaseSysCache(tup);
            return ok;
        });
        if (has_send) {
            pg::call([&] { fmgr_info(pg::node_send_function(typid), &col.send); });
        } else {
            binary_ = false;
        }
        columns_.push_back(col);
        if (!column_list_.empty()) column_list_ += ", ";
        column_list_ += pg::call([&] { return quote_identifier(NameStr(att->attname)); });
    }
}

ShardRouter::~ShardRouter() {
    if (!done_) {
        // Failed or interrupted: a connection in the middle of a COPY cannot be reused.
        for (NodeStream &ns : streams_) {
            if (!ns.c || !still_pooled(ns.c)) continue;
            if (ns.in_flight || PQtransactionStatus(ns.c->pg) == PQTRANS_ACTIVE) {
                xact::connection_lost(*ns.c);
                conn::discard(*ns.c);
            }
        }
    }
    local_.reset();  // its memory is a child of cxt_
    if (cxt_) MemoryContextDelete(cxt_);
}

HeapTuple ShardRouter::keep_row(const Datum *values, const bool *nulls) {
    MemoryContext cxt = cxt_;
    TupleDesc desc = desc_;
    return pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(cxt);
        HeapTuple t = heap_form_tuple(desc, const_cast<Datum *>(values), const_cast<bool *>(nulls));
        MemoryContextSwitchTo(old);
        return t;
    });
}

void ShardRouter::add(const Datum *values, const bool *nulls) {
    if (nulls[dist_att_])
        throw PgError(sqlstate::not_null_violation,
                      "cannot store a row whose distribution column \"" + table_.dist_column + "\" is NULL",
                      "", "Every row of a distributed table needs a value in its distribution column.");
    int idx = metadata::shard_index_for_value(table_, values[dist_att_]);
    rows_added_++;
    for (size_t k = 0; k < time_atts_.size(); k++) {
        const int i = time_atts_[k].first;
        if (!nulls[i]) spans_[k][idx].add(DatumGetTimestampTz(values[i]));
    }
    if (local_node_ >= 0 && table_.shards[idx].nodeid == local_node_) {
        xact::note_local_write();
        if (!rows_statement) {
            if (!local_) {
                local_ = std::make_unique<LocalShardInserter>(table_, desc_, cxt_);
                local_->set_copy(copy_state);
            }
            if (local_->direct(idx)) {
                local_->add(idx, values, nulls);
                return;
            }
        }
        local_pending_.emplace_back(idx, keep_row(values, nulls));
        if (rows_statement && pending_.size() + local_pending_.size() >= kStatementRows)
            row_statements_stored_ += run_row_statements(false);
        return;
    }
    ensure_columns();
    if (!streaming_) {
        pending_.emplace_back(idx, keep_row(values, nulls));
        if (rows_statement) {
            if (pending_.size() + local_pending_.size() >= kStatementRows)
                row_statements_stored_ += run_row_statements(false);
        } else if (pending_.size() >= kStatementRows) {
            switch_to_streaming();
        }
        return;
    }
    encode(idx, values, nulls);
    after_append(idx);
}

void ShardRouter::switch_to_streaming() {
    streaming_ = true;
    buffers_.assign(table_.shard_count, nullptr);
    MemoryContext cxt = cxt_;
    for (auto &b : buffers_) b = pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(cxt);
        StringInfo s = makeStringInfo();
        MemoryContextSwitchTo(old);
        return s;
    });
    std::vector<std::pair<int, HeapTuple>> pending;
    pending.swap(pending_);
    const int natts = desc_->natts;
    Datum *values = static_cast<Datum *>(pg::call([&] { return palloc(sizeof(Datum) * natts); }));
    bool *nulls = static_cast<bool *>(pg::call([&] { return palloc(sizeof(bool) * natts); }));
    for (auto &p : pending) {
        HeapTuple tup = p.second;
        TupleDesc desc = desc_;
        pg::call([&] { heap_deform_tuple(tup, desc, values, nulls); });
        encode(p.first, values, nulls);
        after_append(p.first);
    }
    pfree(values);
    pfree(nulls);
}

void ShardRouter::encode(int idx, const Datum *values, const bool *nulls) {
    StringInfo buf = buffers_[idx];
    const int before = buf->len;
    const Column *cols = columns_.data();
    const int ncols = static_cast<int>(columns_.size());
    MemoryContext row_cxt = row_cxt_;
    bool binary = binary_;
    std::optional<conn::CanonicalOutputStyle> style;
    if (!binary) style.emplace();
    pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(row_cxt);
        if (binary)
            encode_binary(buf, cols, ncols, values, nulls);
        else
            encode_text(buf, cols, ncols, values, nulls);
        MemoryContextSwitchTo(old);
        MemoryContextReset(row_cxt);
    });
    streams_[shard_stream_[idx]].buffered += buf->len - before;
}

void ShardRouter::after_append(int idx) {
    NodeStream &ns = streams_[shard_stream_[idx]];
    if (static_cast<size_t>(buffers_[idx]->len) >= kShardChunkBytes) {
        ship(idx);
        return;
    }
    if (ns.buffered < kNodeBufferBytes) return;
    int largest = ns.shards[0];
    for (int s : ns.shards)
        if (buffers_[s]->len > buffers_[largest]->len) largest = s;
    ship(largest);
}

void ShardRouter::ship(int idx) {
    StringInfo buf = buffers_[idx];
    if (buf->len == 0) return;
    NodeStream &ns = streams_[shard_stream_[idx]];
    if (!ns.c) ns.c = &conn::acquire_for_write(ns.nodeid);
    conn::Connection &c = *ns.c;
    if (ns.in_flight) wait_copy(ns);
    PQsetnonblocking(c.pg, 1);
    // BEGIN / SET first (a round trip of their own, once per connection and transaction: COPY
    // cannot be pipelined), then the COPY, alone, in the extended protocol.
    for (const std::string &p : exec::statement_prefix(c, c.xact == conn::RemoteXact::None)) {
        try {
            conn::exec_control(c, p);
        } catch (...) {
            c.xact = conn::RemoteXact::Failed;
            throw;
        }
    }
    c.wrote = true;
    std::string sql = "COPY " + table_.shards[idx].name + " (" + column_list_ + ") FROM STDIN";
    if (binary_) sql += " (FORMAT binary)";
    if (!PQsendQueryParams(c.pg, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)) {
        c.xact = conn::RemoteXact::Failed;
        conn::throw_remote_error(c, nullptr);
    }
    for (;;) {
        PGresult *res = conn::get_result(c);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COPY_IN) {
            PQclear(res);
            break;
        }
        c.xact = conn::RemoteXact::Failed;
        conn::throw_remote_error(c, res);
    }
    static const char trailer[2] = {'\xff', '\xff'};
    if (binary_) conn::put_copy_data(c, kBinaryHeader, kBinaryHeaderLen);
    conn::put_copy_data(c, buf->data, buf->len);
    if (binary_) conn::put_copy_data(c, trailer, 2);
    conn::end_copy(c);
    conn::flush(c);
    ns.in_flight = true;
    ns.buffered -= buf->len;
    resetStringInfo(buf);
    pg::call([] { CHECK_FOR_INTERRUPTS(); });
}

void ShardRouter::wait_copy(NodeStream &ns) {
    try {
        rows_stored_ += conn::finish_command(*ns.c, true);
    } catch (...) {
        ns.in_flight = false;  // every result was read (or the connection is gone already)
        throw;
    }
    ns.in_flight = false;
}

void ShardRouter::flush_local() {
    if (local_) local_->flush();
}

uint64_t ShardRouter::finish() {
    uint64_t n = local_ ? local_->finish() : 0;
    if (streaming_) {
        for (int i = 0; i < table_.shard_count; i++) ship(i);
        for (NodeStream &ns : streams_)
            if (ns.in_flight) wait_copy(ns);
        n += rows_stored_;
    }
    n += finish_statements();  // rows kept for statements: remote (statement mode) and local
    for (size_t k = 0; k < time_atts_.size(); k++)
        for (int s = 0; s < table_.shard_count; s++)
            engine::note_write(table_.relid, time_atts_[k].second, s, spans_[k][s]);
    done_ = true;
    return n;
}

// Rows kept so far go out as parameterized statements (rows_statement), at most kStatementRows rows
// and 65535 parameters each: one task per statement, a node's tasks in order on its connection.
uint64_t ShardRouter::run_row_statements(bool last) {
    ensure_columns();
    std::map<int, std::vector<HeapTuple>> by_shard;
    for (auto &p : pending_) by_shard[p.first].push_back(p.second);
    for (auto &p : local_pending_) by_shard[p.first].push_back(p.second);
    const size_t ncols = columns_.size();
    const size_t max_rows = std::max<size_t>(1, std::min<size_t>(kStatementRows, 65535 / std::max<size_t>(1, ncols)));
    conn::CanonicalOutputStyle style;
    const int natts = desc_->natts;
    Datum *values = static_cast<Datum *>(pg::call([&] { return palloc(sizeof(Datum) * natts); }));
    bool *nulls = static_cast<bool *>(pg::call([&] { return palloc(sizeof(bool) * natts); }));
    std::vector<Task> tasks;
    for (auto &kv : by_shard) {
        const metadata::ShardInfo &shard = table_.shards[kv.first];
        const bool local = shard.nodeid == local_node_;
        for (size_t from = 0; from < kv.second.size(); from += max_rows) {
            const size_t n = std::min(max_rows, kv.second.size() - from);
            Task t;
            t.nodeid = shard.nodeid;
            t.sql = rows_statement(kv.first, static_cast<int>(n));
            t.write = true;
            t.local = local;
            if (on_rows) t.on_rows = on_rows;
            for (size_t r = from; r < from + n; r++) {
                HeapTuple tup = kv.second[r];
                TupleDesc desc = desc_;
                pg::call([&] { heap_deform_tuple(tup, desc, values, nulls); });
                for (const Column &col : columns_) {
                    const int a = col.att;
                    // A node infers each parameter's type from its target column (types may have
                    // other OIDs there); in this backend SPI needs them.
                    t.param_types.push_back(local ? TupleDescAttr(desc_, a)->atttypid : InvalidOid);
                    if (nulls[a]) {
                        t.params.emplace_back(std::nullopt);
                        continue;
                    }
                    const FmgrInfo *f = &col.out;
                    const Datum d = values[a];
                    char *text = pg::call([&] { return OutputFunctionCall(const_cast<FmgrInfo *>(f), d); });
                    t.params.emplace_back(std::string(text));
                    pfree(text);
                }
            }
            tasks.push_back(std::move(t));
        }
    }
    pfree(values);
    pfree(nulls);
    pending_.clear();
    local_pending_.clear();
    // Only the whole write, as one statement on one node, may commit there by itself.
    if (last && !row_statements_sent_ && tasks.size() == 1 && !tasks[0].local && may_autocommit_ &&
        !xact::wrote_locally())
        tasks[0].autocommit = true;
    row_statements_sent_ = true;
    execute(tasks);
    uint64_t stored = 0;
    for (auto &t : tasks) stored += t.rows_affected;
    return stored;
}

uint64_t ShardRouter::finish_statements() {
    if (rows_statement) return row_statements_stored_ + run_row_statements(true);
    if (pending_.empty() && local_pending_.empty()) return 0;
    ensure_columns();
    // Rows of each shard, in arrival order.
    std::map<int, std::vector<HeapTuple>> by_shard;
    for (auto &p : pending_) by_shard[p.first].push_back(p.second);
    for (auto &p : local_pending_) by_shard[p.first].push_back(p.second);
    std::map<int, exec::Statements> sql_by_node;
    std::vector<std::string> local_sql;  // one statement per task, each of at most kStatementRows rows
    conn::CanonicalOutputStyle style;
    const int natts = desc_->natts;
    Datum *values = static_cast<Datum *>(pg::call([&] { return palloc(sizeof(Datum) * natts); }));
    bool *nulls = static_cast<bool *>(pg::call([&] { return palloc(sizeof(bool) * natts); }));
    for (auto &kv : by_shard) {
        const metadata::ShardInfo &shard = table_.shards[kv.first];
        const bool local = shard.nodeid == local_node_;
        const std::string head = "INSERT INTO " + shard.name + " (" + column_list_ + ") VALUES ";
        std::string *sqlp = nullptr;
        size_t rows_in_statement = 0;
        for (HeapTuple tup : kv.second) {
            if (!sqlp || (local && rows_in_statement == kStatementRows)) {
                if (local) {
                    local_sql.emplace_back();
                    sqlp = &local_sql.back();
                } else {
                    sql_by_node[shard.nodeid].emplace_back();
                    sqlp = &sql_by_node[shard.nodeid].back();
                }
                *sqlp += head;
                rows_in_statement = 0;
            }
            std::string &sql = *sqlp;
            TupleDesc desc = desc_;
            pg::call([&] { heap_deform_tuple(tup, desc, values, nulls); });
            sql += rows_in_statement++ == 0 ? "(" : ", (";
            for (size_t i = 0; i < columns_.size(); i++) {
                if (i) sql += ", ";
                int a = columns_[i].att;
                if (nulls[a]) {
                    sql += "NULL";
                    continue;
                }
                FmgrInfo *f = &columns_[i].out;
                Datum d = values[a];
                char *s = pg::call([&] { return OutputFunctionCall(f, d); });
                sql += sql_literal(s);
                pfree(s);
            }
            sql += ")";
        }
    }
    pfree(values);
    pfree(nulls);
    std::vector<Task> tasks;
    // A node may commit by itself only when it holds the whole write (no local rows either).
    const bool autocommit = may_autocommit_ && sql_by_node.size() == 1 && !xact::wrote_locally();
    for (auto &kv : sql_by_node) {
        Task t;
        t.nodeid = kv.first;
        t.statements = std::move(kv.second);
        t.write = true;
        t.autocommit = autocommit;
        if (on_rows) t.on_rows = on_rows;
        tasks.push_back(std::move(t));
    }
    for (std::string &sql : local_sql) {
        Task t;
        t.nodeid = local_node_;
        t.sql = std::move(sql);
        t.write = true;
        t.local = true;
        if (on_rows) t.on_rows = on_rows;
        tasks.push_back(std::move(t));
    }
    execute(tasks);
    uint64_t n = 0;
    for (auto &t : tasks) n += t.rows_affected;
    rows_stored_ = n;
    return n;
}

}  // namespace rollup::exec
