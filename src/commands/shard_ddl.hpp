// The DDL that creates a shard: the shell table's columns, types, collations, defaults, NOT NULL,
// CHECK constraints, PRIMARY KEY / UNIQUE constraints and indexes, under the shard's own name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace rollup::commands {

struct ShellDefinition {
    std::string schema, relname;
    bool unlogged = false;
    std::string columns;  // "a int NOT NULL, b text DEFAULT ..., CONSTRAINT c CHECK (...)"
    struct Keyed {
        std::string name;  // constraint or index name on the shell
        std::string body;  // after the name: "PRIMARY KEY (..)" or "USING btree (..)"
        bool unique_index = false;
        bool is_constraint = false;
    };
    std::vector<Keyed> keyed;
};

// An index as a shard needs it: "USING <am> (<keys>) [INCLUDE (...)] [NULLS NOT DISTINCT]
// [WITH (...)] [WHERE ...]", printed from pg_index and the catalogs it points to (never cut out of
// pg_get_indexdef text), names quoted and qualified as on a node (deparser settings).
struct IndexDefinition {
    bool unique = false;
    std::string body;
};
IndexDefinition index_definition(Oid indexoid);

// Reads the shell table; checks that what we cannot distribute is refused with a clear error.
ShellDefinition describe_shell(Oid relid, AttrNumber dist_attnum);

// The statements that create the shard `shardid` of that table (one statement each).
std::vector<std::string> shard_create_sql(const ShellDefinition &def, int64_t shardid);

// Creates the table's schema on a node where it is missing (once per node, before the shards).
std::string schema_create_sql(const ShellDefinition &def);

}  // namespace rollup::commands
