#include <cstring>
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

}  // namespace rollup::pg
