#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "pg/pinned_settings.hpp"
#include "pg/spi.hpp"

namespace rollup::pg {

SpiSession::SpiSession() {
    call([] { SPI_connect(); });
    connected_ = true;
    static const Setting pinned[] = {{"search_path", "pg_catalog, pg_temp"}};
    try {
        nest_level_ = call([] { return pin_settings(pinned, 1); });
    } catch (...) {
        SPI_finish();
        throw;
    }
}

SpiSession::~SpiSession() {
    if (nest_level_ >= 0) {
        const int level = nest_level_;
        try {
            call([&] { unpin_settings(level); });
        } catch (...) {
        }
    }
    if (connected_) SPI_finish();
}

namespace {

// Frame of PODs only: builds the argument arrays in the current (SPI procedure) memory context.
struct SpiArgs {
    int n;
    Oid *types;
    Datum *values;
    char *nulls;
};

SpiArgs build_args(const std::vector<Param> &params) {
    SpiArgs a{static_cast<int>(params.size()), nullptr, nullptr, nullptr};
    if (a.n == 0) return a;
    a.types = static_cast<Oid *>(call([&] { return palloc(sizeof(Oid) * a.n); }));
    a.values = static_cast<Datum *>(call([&] { return palloc(sizeof(Datum) * a.n); }));
    a.nulls = static_cast<char *>(call([&] { return palloc(a.n); }));
    for (int i = 0; i < a.n; i++) {
        const Param &p = params[i];
        a.types[i] = p.type;
        if (!p.value) {
            a.values[i] = 0;
            a.nulls[i] = 'n';
            continue;
        }
        const char *s = p.value->c_str();
        Oid type = p.type;
        a.values[i] = call([&] {
            Oid input, ioparam;
            getTypeInputInfo(type, &input, &ioparam);
            return OidInputFunctionCall(input, const_cast<char *>(s), ioparam, -1);
        });
        a.nulls[i] = ' ';
    }
    return a;
}

int run(const char *sql, const SpiArgs &a, bool read_only) {
    return call([&] {
        return a.n == 0 ? SPI_execute(sql, read_only, 0)
                        : SPI_execute_with_args(sql, a.n, a.types, a.values, a.nulls, read_only, 0);
    });
}

// Statements run often (on every read of a real-time view) are planned once per backend: the
// session's search_path is pinned (above), and the plan cache revalidates a kept plan when a
// catalog it depends on changes. Keyed by the text and the parameter types.
int run_saved(const std::string &sql, const SpiArgs &a, bool read_only) {
    static std::map<std::string, SPIPlanPtr> saved;
    std::string key = sql;
    for (int i = 0; i < a.n; i++) key += "\x1f" + std::to_string(a.types[i]);
    auto it = saved.find(key);
    SPIPlanPtr plan = it == saved.end() ? nullptr : it->second;
    if (!plan) {
        const char *text = sql.c_str();
        plan = call([&] {
            SPIPlanPtr p = SPI_prepare(text, a.n, a.types);
            if (p && SPI_keepplan(p) != 0) p = nullptr;
            return p;
        });
        if (!plan) throw PgError(sqlstate::internal_error, "SPI_prepare failed for: " + sql);
        saved.emplace(key, plan);
    }
    return call([&] { return SPI_execute_plan(plan, a.values, a.nulls, read_only, 0); });
}

std::vector<Row> rows_of_result() {
    std::vector<Row> rows;
    if (!SPI_tuptable) return rows;
    const uint64_t n = SPI_processed;
    TupleDesc desc = SPI_tuptable->tupdesc;
    rows.reserve(n);
    for (uint64_t r = 0; r < n; r++) {
        HeapTuple tup = SPI_tuptable->vals[r];
        Row row;
        row.reserve(desc->natts);
        for (int c = 1; c <= desc->natts; c++) {
            char *v = call([&] { return SPI_getvalue(tup, desc, c); });
            if (v)
                row.emplace_back(std::string(v));
            else
                row.emplace_back(std::nullopt);
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace

uint64_t SpiSession::execute(const std::string &sql, const std::vector<Param> &params, bool read_only) {
    SpiArgs a = build_args(params);
    int rc = run(sql.c_str(), a, read_only);
    if (rc < 0) throw PgError(sqlstate::internal_error, "SPI failed for: " + sql);
    return SPI_processed;
}

std::vector<Row> SpiSession::query(const std::string &sql, const std::vector<Param> &params,
                                   bool read_only) {
    SpiArgs a = build_args(params);
    int rc = run(sql.c_str(), a, read_only);
    if (rc < 0) throw PgError(sqlstate::internal_error, "SPI failed for: " + sql);
    return rows_of_result();
}

std::vector<Row> SpiSession::query_saved(const std::string &sql, const std::vector<Param> &params,
                                         bool read_only) {
    SpiArgs a = build_args(params);
    int rc = run_saved(sql, a, read_only);
    if (rc < 0) throw PgError(sqlstate::internal_error, "SPI failed for: " + sql);
    return rows_of_result();
}

}  // namespace rollup::pg
