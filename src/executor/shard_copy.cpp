#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "pg/node_values.hpp"
#include "executor/remote_exec.hpp"
#include "executor/shard_copy.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::exec {

namespace {
constexpr size_t kFlushBytes = 1 << 20;
}

conn::Connection &connection_for_write(int nodeid) {
    conn::Connection &c = conn::acquire_for_write(nodeid);
    if (c.xact == conn::RemoteXact::None) {
        PQsetnonblocking(c.pg, 0);
        conn::exec_control(c, conn::begin_statement());
        c.xact = conn::RemoteXact::Begun;
        xact::note_begin(c);
    }
    for (const std::string &sync : conn::session_sync_statements(c)) conn::exec_control(c, sync);
    c.wrote = true;
    return c;
}

void append_copy_text(std::string &out, const char *v) {
    for (const char *p = v; *p; p++) {
        switch (*p) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: out += *p;
        }
    }
}

ShardCopySink::ShardCopySink(const metadata::DistTable &table, TupleDesc desc)
    : table_(table), desc_(desc), buffers_(table.shard_count) {
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped) continue;
        if (att->attnum == table.dist_attnum) dist_index_ = static_cast<int>(attnums_.size());
        attnums_.push_back(i + 1);
        FmgrInfo f;
        Oid typid = att->atttypid;
        pg::call([&] { fmgr_info(pg::node_output_function(typid), &f); });
        out_funcs_.push_back(f);
        if (!column_list_.empty()) column_list_ += ", ";
        column_list_ += pg::call([&] { return quote_identifier(NameStr(att->attname)); });
    }
    if (dist_index_ < 0) throw PgError(sqlstate::internal_error, "distribution column missing from row");
}

ShardCopySink::~ShardCopySink() = default;

int ShardCopySink::add(const Datum *values, const bool *nulls) {
    const int dist_att = attnums_[dist_index_] - 1;
    if (nulls[dist_att])
        throw PgError(sqlstate::not_null_violation,
                      "cannot store a row whose distribution column \"" + table_.dist_column + "\" is NULL",
                      "", "Every row of a distributed table needs a value in its distribution column.");
    int idx = metadata::shard_index_for_value(table_, values[dist_att]);
    std::string &buf = buffers_[idx];
    conn::CanonicalOutputStyle style;
    for (size_t i = 0; i < attnums_.size(); i++) {
        if (i) buf += '\t';
        int a = attnums_[i] - 1;
        if (nulls[a]) {
            buf += "\\N";
            continue;
        }
        FmgrInfo *f = &out_funcs_[i];
        Datum d = values[a];
        char *s = pg::call([&] { return OutputFunctionCall(f, d); });
        append_copy_text(buf, s);
        pfree(s);
    }
    buf += '\n';
    rows_added_++;
    if (buf.size() >= kFlushBytes) flush(idx);
    return idx;
}

void ShardCopySink::flush(int idx) {
    std::string &buf = buffers_[idx];
    if (buf.empty()) return;
    const metadata::ShardInfo &shard = table_.shards[idx];
    conn::Connection &c = connection_for_write(shard.nodeid);
    std::string sql = "COPY " + shard.name + " (" + column_list_ + ") FROM STDIN";
    conn::send(c, sql.c_str());
    PGresult *res = conn::get_result(c);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        c.xact = conn::RemoteXact::Failed;
        conn::throw_remote_error(c, res);
    }
    PQclear(res);
    conn::put_copy_data(c, buf.data(), buf.size());
    conn::end_copy(c);
    rows_stored_ += conn::finish_command(c, true);
    buf.clear();
    pg::call([] { CHECK_FOR_INTERRUPTS(); });
}

uint64_t ShardCopySink::finish() {
    for (int i = 0; i < table_.shard_count; i++) flush(i);
    return rows_stored_;
}

}  // namespace rollup::exec
