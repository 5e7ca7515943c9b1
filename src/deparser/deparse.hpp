// SQL text for the nodes, printed from a Query.
//
// Design note. PostgreSQL's own deparser (pg_get_querydef) prints whatever the parser accepts
// (GROUP BY, HAVING, CASE, sublinks, CTEs, window functions, UPDATE ... RETURNING, ON CONFLICT), but
// it names a relation by its OID's catalog entry, and a shard has no catalog entry here. So:
//  1. every distributed table's range-table entry in a copy of the tree gets a marker alias
//     (rollup_shard_<n>; ruleutils keeps aliases unique, renaming one of two that collide, so a
//     user's alias of that name makes a marker unplaceable, never misplaced: then the statement is
//     printed again with markers that carry a random nonce nobody can have written);
//  2. the copy is printed once with search_path pinned to pg_catalog and standard_conforming_strings
//     on (pg/pinned_settings.hpp): every object outside pg_catalog is printed schema-qualified, so
//     the text resolves the same way on a node whatever the user's or the node's search_path;
//  3. the printed text is split into tokens by PostgreSQL's own SQL scanner, and the relation name
//     printed right before each marker alias (the only place ruleutils puts a relation name next to
//     its alias) is recorded as a slot. String literals, quoted identifiers and comments are single
//     tokens: nothing inside them is ever looked at.
// A ShardStatement is then instantiated per shard index by writing the shard's quoted name into the
// slots. Nothing here searches SQL text for keywords, and a slot that is not exactly where the
// tree says it must be is an internal error, never a guess.
#pragma once
#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace rollup::deparse {

class ShardStatement {
public:
    // Prints the query (not modified: a copy is deparsed). Co-located tables use shards of the same
    // index.
    explicit ShardStatement(const Query *query);
    // The statement for one shard index.
    std::string for_shard(int shard_index) const;

private:
    bool print(const Query *query, const std::string &marker_prefix);
    struct Slot {
        size_t start;
        size_t length;
        Oid relid;
    };
    std::string text_;
    std::vector<Slot> slots_;
};

// Shorthand for one shard.
std::string query_for_shard(const Query *query, int shard_index);

// A statement on one line for EXPLAIN (the deparser indents): runs of white space outside quotes
// become one space.
std::string one_line(const std::string &sql);

// Folds external parameters and stable functions (now(), current_setting(), ...) into constants,
// at execution time, so that every shard sees the same values. Returns a new tree. The Query form
// also makes date_trunc cheap (time_buckets.hpp); the expression form leaves that to its caller.
Query *fold_for_execution(const Query *query, ParamListInfo params);
Node *fold_expression_for_execution(const Node *expr, ParamListInfo params);

// deparse_expression() under the node settings (see above): for code that prints single
// expressions for a shard (RollupScan's columns and filters, shard DDL defaults).
std::string expression_for_node(Node *expr, List *dpcontext);

}  // namespace rollup::deparse
