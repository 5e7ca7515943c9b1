#include <string>
#include <vector>

#include "metadata/metadata_cache.hpp"
#include "planner/deparse.hpp"
#include "planner/time_buckets.hpp"

namespace rollup::deparse {

namespace {

struct Marked {
    Oid relid;
    std::string marker;
};

struct MarkContext {
    std::vector<Marked> *marked;
    int next;
};

bool mark_rtes(Node *node, MarkContext *ctx);

// Gives every distributed table's RTE (in this query and all nested ones) a unique alias.
void mark_query(Query *q, MarkContext *ctx) {
    ListCell *lc;
    int rtindex = 0;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        rtindex++;
        // ON CONFLICT's EXCLUDED pseudo-relation is printed as "excluded", never as a table.
        if (q->onConflict && rtindex == q->onConflict->exclRelIndex) continue;
        if (rte->rtekind != RTE_RELATION || !metadata::lookup(rte->relid)) continue;
        std::string marker = "rollup_rte_" + std::to_string(ctx->next++);
        rte->alias = makeAlias(pstrdup(marker.c_str()), NIL);
        ctx->marked->push_back({rte->relid, marker});
    }
    query_tree_walker(q, reinterpret_cast<bool (*)()>(mark_rtes), ctx, QTW_IGNORE_RANGE_TABLE);
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        if (rte->rtekind == RTE_SUBQUERY && rte->subquery) mark_query(rte->subquery, ctx);
    }
}

bool mark_rtes(Node *node, MarkContext *ctx) {
    if (!node) return false;
    if (IsA(node, Query)) {
        mark_query(reinterpret_cast<Query *>(node), ctx);
        return false;
    }
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(mark_rtes), ctx);
}

bool replace_once(std::string &sql, const std::string &from, const std::string &to) {
    size_t pos = sql.find(from);
    if (pos == std::string::npos) return false;
    sql.replace(pos, from.size(), to);
    return true;
}

Node *fold_mutator(Node *node, PlannerInfo *root);

Node *fold_mutator(Node *node, PlannerInfo *root) {
    if (!node) return nullptr;
    if (IsA(node, Query))
        return reinterpret_cast<Node *>(query_tree_mutator(reinterpret_cast<Query *>(node),
                                                           reinterpret_cast<Node *(*)()>(fold_mutator), root, 0));
    return estimate_expression_value(root, node);
}

PlannerInfo *fold_root(ParamListInfo params) {
    PlannerGlobal *glob = makeNode(PlannerGlobal);
    glob->boundParams = params;
    PlannerInfo *root = makeNode(PlannerInfo);
    root->glob = glob;
    return root;
}

}  // namespace

std::string query_for_shard(const Query *query, int shard_index) {
    std::vector<Marked> marked;
    Query *copy = pg::call([&] { return static_cast<Query *>(copyObjectImpl(query)); });
    MarkContext ctx{&marked, 1};
    pg::call([&] { mark_query(copy, &ctx); });
    std::string sql = pg::call([&] { return pg_get_querydef(copy, false); });
    for (const Marked &m : marked) {
        const metadata::DistTable &t = metadata::get(m.relid);
        if (shard_index < 0 || shard_index >= t.shard_count)
            throw PgError(sqlstate::internal_error, "shard index out of range for " + t.relname);
        const std::string &shard = t.shards[shard_index].name;
        std::string qualified = pg::call([&] { return quote_qualified_identifier(t.schema.c_str(), t.relname.c_str()); });
        std::string bare = pg::call([&] { return quote_identifier(t.relname.c_str()); });
        bool done = false;
        for (const char *sep : {" ", " AS "}) {
            for (const std::string *name : {&qualified, &bare}) {
                if (done) break;
                done = replace_once(sql, *name + sep + m.marker, shard + sep + m.marker);
            }
        }
        if (!done) throw PgError(sqlstate::internal_error, "could not place shard of " + t.relname + " in: " + sql);
    }
    return sql;
}

// The statement on one line for EXPLAIN (the deparser indents): runs of white space outside
// quotes become one space.
std::string one_line(const std::string &sql) {
    std::string out;
    char quote = 0;
    bool space = false;
    for (char c : sql) {
        if (quote) {
            out += c;
            if (c == quote) quote = 0;
            continue;
        }
        if (c == ' ' || c == '\n' || c == '\t') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        if (c == '\'' || c == '"') quote = c;
        out += c;
    }
    return out;
}

Query *fold_for_execution(const Query *query, ParamListInfo params) {
    const TimeBucketContext tb = time_bucket_context();
    return pg::call([&] {
        Query *copy = static_cast<Query *>(copyObjectImpl(query));
        Node *folded = fold_mutator(reinterpret_cast<Node *>(copy), fold_root(params));
        return reinterpret_cast<Query *>(rewrite_time_buckets(folded, &tb, false));
    });
}

Node *fold_expression_for_execution(const Node *expr, ParamListInfo params) {
    return pg::call([&] {
        Node *copy = static_cast<Node *>(copyObjectImpl(expr));
        return estimate_expression_value(fold_root(params), copy);
    });
}

}  // namespace rollup::deparse

using namespace rollup;

// Test support: the SQL a shard would receive for a statement (after folding stable functions).
ROLLUP_FUNCTION(rollup_deparse_for_shard) {
    text *t = PG_GETARG_TEXT_PP(0);
    std::string sql(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    int index = PG_GETARG_INT32(1);
    Query *query = pg::call([&] {
        List *raw = pg_parse_query(sql.c_str());
        if (list_length(raw) != 1) ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("expected one statement")));
        List *queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), sql.c_str(), NULL, 0, NULL);
        return linitial_node(Query, queries);
    });
    Query *folded = deparse::fold_for_execution(query, nullptr);
    std::string out = deparse::query_for_shard(folded, index);
    PG_RETURN_TEXT_P(cstring_to_text(out.c_str()));
}
