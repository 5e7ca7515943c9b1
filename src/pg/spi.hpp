// SPI from C++: one RAII session, statements with parameters, results copied out as text.
// Every SPI call goes through pg::call, so an SQL error becomes a PgError and destructors run.
// The session pins search_path to "pg_catalog, pg_temp" (pg/pinned_settings.hpp): our statements
// are fixed text or printed for nodes with every other object qualified, and none of them may
// resolve a function or operator on the caller's search_path (docs/security.md).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace rollup::pg {

using Text = std::optional<std::string>;  // nullopt is SQL NULL
using Row = std::vector<Text>;

struct Param {
    Oid type;
    Text value;  // text form, converted by the type's input function
};

class SpiSession {
public:
    SpiSession();
    ~SpiSession();
    SpiSession(const SpiSession &) = delete;
    SpiSession &operator=(const SpiSession &) = delete;

    // Runs a statement; returns the number of rows processed.
    uint64_t execute(const std::string &sql, const std::vector<Param> &params = {},
                     bool read_only = false);
    // Runs a query; returns its rows in text form.
    std::vector<Row> query(const std::string &sql, const std::vector<Param> &params = {},
                           bool read_only = true);
    // The same, for a fixed statement run often: planned once per backend and kept (SPI_keepplan).
    // Only for constant SQL text (each distinct text keeps a plan for the life of the backend).
    std::vector<Row> query_saved(const std::string &sql, const std::vector<Param> &params = {},
                                 bool read_only = true);

private:
    bool connected_ = false;
    int nest_level_ = -1;
};

inline Param int_param(int64_t v) { return {INT8OID, std::to_string(v)}; }
inline Param text_param(const std::string &v) { return {TEXTOID, v}; }
inline Param oid_param(Oid v) { return {OIDOID, std::to_string(v)}; }

}  // namespace rollup::pg
