#include <algorithm>
#include <string>
#include <vector>

#include "metadata/metadata_cache.hpp"
#include "deparser/deparse.hpp"
#include "pg/pinned_settings.hpp"
#include "planner/time_buckets.hpp"

namespace rollup::deparse {

namespace {

struct Marked {
    Oid relid;
    std::string marker;
};

struct MarkContext {
    std::vector<Marked> *marked;
    const std::string *prefix;
    int next;
};

bool mark_rtes(Node *node, MarkContext *ctx);

// Gives every distributed table's RTE (in this query and all nested ones: subqueries in FROM, in
// expressions, in CTEs, in function and VALUES entries) a unique alias.
void mark_query(Query *q, MarkContext *ctx) {
    ListCell *lc;
    int rtindex = 0;
    foreach (lc, q->rtable) {
        RangeTblEntry *rte = static_cast<RangeTblEntry *>(lfirst(lc));
        rtindex++;
        // ON CONFLICT's EXCLUDED pseudo-relation is printed as "excluded", never as a table.
        if (q->onConflict && rtindex == q->onConflict->exclRelIndex) continue;
        if (rte->rtekind != RTE_RELATION || !metadata::lookup(rte->relid)) continue;
        std::string marker = *ctx->prefix + std::to_string(ctx->next++);
        rte->alias = makeAlias(pstrdup(marker.c_str()), NIL);
        ctx->marked->push_back({rte->relid, marker});
    }
    query_tree_walker(q, reinterpret_cast<bool (*)()>(mark_rtes), ctx, 0);
}

// A distributed table's row type names the coordinator's table, which the nodes do not have (a type
// of that name there may be anyone's): no whole-row reference, row value, or array of them is
// printed. Every expression node's type is checked (arrays by their element type).
bool names_distributed_row_type(Oid type) {
    if (!OidIsValid(type)) return false;
    Oid elem = get_base_element_type(type);
    if (OidIsValid(elem)) type = elem;
    type = getBaseType(type);
    if (!type_is_rowtype(type)) return false;
    Oid relid = typeidTypeRelid(type);
    return OidIsValid(relid) && metadata::lookup(relid) != nullptr;
}

bool is_typed_expression(Node *node) {
    switch (nodeTag(node)) {
        case T_Var: case T_Const: case T_Param: case T_Aggref: case T_WindowFunc: case T_SubscriptingRef:
        case T_FuncExpr: case T_OpExpr: case T_DistinctExpr: case T_NullIfExpr: case T_ScalarArrayOpExpr:
        case T_SubLink: case T_FieldSelect: case T_FieldStore: case T_RelabelType: case T_CoerceViaIO:
        case T_ArrayCoerceExpr: case T_ConvertRowtypeExpr: case T_CollateExpr: case T_CaseExpr:
        case T_CaseTestExpr: case T_ArrayExpr: case T_RowExpr: case T_CoalesceExpr: case T_MinMaxExpr:
        case T_CoerceToDomain: case T_CoerceToDomainValue: case T_SetToDefault: case T_NamedArgExpr:
            return true;
        default:
            return false;
    }
}

void ensure_no_row_type(Node *node) {
    Oid type = exprType(node);
    if (!names_distributed_row_type(type)) return;
    Oid elem = get_base_element_type(type);
    Oid relid = typeidTypeRelid(getBaseType(OidIsValid(elem) ? elem : type));
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("a whole-row value of distributed table \"%s\" cannot be sent to its shards",
                           get_rel_name(relid)),
                    errhint("Name the columns instead.")));
}

bool mark_rtes(Node *node, MarkContext *ctx) {
    if (!node) return false;
    if (IsA(node, Query)) {
        mark_query(reinterpret_cast<Query *>(node), ctx);
        return false;
    }
    if (IsA(node, OnConflictExpr)) {
        // exclRelTlist (EXCLUDED's columns and whole row, for the executor) is never printed.
        OnConflictExpr *oc = reinterpret_cast<OnConflictExpr *>(node);
        return mark_rtes(reinterpret_cast<Node *>(oc->arbiterElems), ctx) ||
               mark_rtes(oc->arbiterWhere, ctx) || mark_rtes(reinterpret_cast<Node *>(oc->onConflictSet), ctx) ||
               mark_rtes(oc->onConflictWhere, ctx);
    }
    if (is_typed_expression(node)) ensure_no_row_type(node);
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(mark_rtes), ctx);
}

// A marker prefix nobody can have written: 64 random bits (pg_strong_random), fresh per deparse.
std::string marker_prefix() {
    uint64_t nonce = 0;
    if (!pg_strong_random(&nonce, sizeof nonce))
        throw PgError(sqlstate::internal_error, "could not generate a random alias for a shard statement");
    char buf[40];
    snprintf(buf, sizeof buf, "rollup_%016llx_", static_cast<unsigned long long>(nonce));
    return buf;
}

// Start offsets of the tokens of `sql`, by PostgreSQL's scanner (under the settings it was printed
// with). PostgreSQL-style C: only palloc'd memory.
int *scan_token_starts(const char *sql, int *count) {
    core_yy_extra_type extra;
    core_yyscan_t scanner = scanner_init(sql, &extra, &ScanKeywords, ScanKeywordTokens);
    int cap = 64, n = 0;
    int *starts = static_cast<int *>(palloc(sizeof(int) * cap));
    for (;;) {
        core_YYSTYPE yylval;
        YYLTYPE loc;
        if (core_yylex(&yylval, &loc, scanner) == 0) break;
        if (n == cap) {
            cap *= 2;
            starts = static_cast<int *>(repalloc(starts, sizeof(int) * cap));
        }
        starts[n++] = loc;
    }
    scanner_finish(scanner);
    *count = n;
    return starts;
}

bool is_ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
           static_cast<unsigned char>(c) >= 0x80;
}

// ---- printable forms ------------------------------------------------------------------------
// ruleutils prints a tree the parser made; a tree that went through eval_const_expressions (every
// shipped expression does, at plan time or when folded for execution) can hold forms it prints as
// text a node reads as something else. These are put back into a form that prints faithfully before
// anything is printed. PostgreSQL-style C (may ereport), on a copy.

// A simple CASE's WHEN is printed as its right-hand side only when it is still "CaseTestExpr op rhs"
// (ruleutils' test); anything else prints the placeholder itself, CASE_TEST_EXPR, which a node reads
// as a column name.
bool when_printable(Node *w) {
    if (!IsA(w, OpExpr)) return false;
    List *args = reinterpret_cast<OpExpr *>(w)->args;
    return list_length(args) == 2 && IsA(strip_implicit_coercions(static_cast<Node *>(linitial(args))), CaseTestExpr);
}

constexpr Oid kBooleanEqualOperator = 91;  // boolean = boolean (pg_operator.dat: BooleanEqualOperator)

Node *bool_case_test(CaseTestExpr *ct, bool value) {
    return reinterpret_cast<Node *>(make_opclause(kBooleanEqualOperator, BOOLOID, false, reinterpret_cast<Expr *>(ct),
                                                  reinterpret_cast<Expr *>(makeBoolConst(value, false)), InvalidOid,
                                                  InvalidOid));
}

// eval_const_expressions simplifies "CaseTestExpr = true" to the bare CaseTestExpr and
// "CaseTestExpr = false" to NOT CaseTestExpr (simplify_boolean_equality): undone here.
Node *repair_bool_when(Node *w) {
    if (IsA(w, CaseTestExpr) && reinterpret_cast<CaseTestExpr *>(w)->typeId == BOOLOID)
        return bool_case_test(reinterpret_cast<CaseTestExpr *>(w), true);
    if (is_notclause(w)) {
        Node *a = reinterpret_cast<Node *>(get_notclausearg(reinterpret_cast<Expr *>(w)));
        if (IsA(a, CaseTestExpr) && reinterpret_cast<CaseTestExpr *>(a)->typeId == BOOLOID)
            return bool_case_test(reinterpret_cast<CaseTestExpr *>(a), false);
    }
    return w;
}

// Replaces the CaseTestExprs of one simple CASE's WHEN clause by its test value (not those of nested
// constructs that have placeholders of their own).
Node *substitute_case_test(Node *node, Node *value) {
    if (!node) return nullptr;
    if (IsA(node, CaseTestExpr)) return static_cast<Node *>(copyObjectImpl(value));
    if (IsA(node, ArrayCoerceExpr)) {
        ArrayCoerceExpr *a = static_cast<ArrayCoerceExpr *>(copyObjectImpl(node));
        a->arg = reinterpret_cast<Expr *>(substitute_case_test(reinterpret_cast<Node *>(a->arg), value));
        return reinterpret_cast<Node *>(a);
    }
    if (IsA(node, CaseExpr) && reinterpret_cast<CaseExpr *>(node)->arg) {
        CaseExpr *c = static_cast<CaseExpr *>(copyObjectImpl(node));
        c->arg = reinterpret_cast<Expr *>(substitute_case_test(reinterpret_cast<Node *>(c->arg), value));
        ListCell *lc;
        foreach (lc, c->args) {
            CaseWhen *cw = lfirst_node(CaseWhen, lc);
            cw->result = reinterpret_cast<Expr *>(substitute_case_test(reinterpret_cast<Node *>(cw->result), value));
        }
        c->defresult = reinterpret_cast<Expr *>(substitute_case_test(reinterpret_cast<Node *>(c->defresult), value));
        return reinterpret_cast<Node *>(c);
    }
    return expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(substitute_case_test), value);
}

// A simple CASE whose WHEN clauses ruleutils cannot print: the boolean simplifications are undone;
// any other shape becomes a searched CASE with the test value written into each WHEN, which
// evaluates it once per WHEN: only for a test value without volatile functions.
void repair_simple_case(CaseExpr *c) {
    bool all = true;
    ListCell *lc;
    foreach (lc, c->args) {
        CaseWhen *cw = lfirst_node(CaseWhen, lc);
        cw->expr = reinterpret_cast<Expr *>(repair_bool_when(reinterpret_cast<Node *>(cw->expr)));
        if (!when_printable(reinterpret_cast<Node *>(cw->expr))) all = false;
    }
    if (all) return;
    if (contain_volatile_functions(reinterpret_cast<Node *>(c->arg)))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("a simple CASE over a volatile expression cannot be sent to the shards in this form"),
                        errhint("Write it as a searched CASE (CASE WHEN x = value THEN ...).")));
    foreach (lc, c->args) {
        CaseWhen *cw = lfirst_node(CaseWhen, lc);
        cw->expr = reinterpret_cast<Expr *>(substitute_case_test(reinterpret_cast<Node *>(cw->expr),
                                                                 reinterpret_cast<Node *>(c->arg)));
    }
    c->arg = nullptr;
}

// An explicit COLLATE the tree still knows but ruleutils does not print: on a Param (a constant
// sent as a parameter keeps its collation in paramcollid) and on a RelabelType (eval_const_expressions
// folds "expr COLLATE x" into a RelabelType whose resultcollid is x, printed as a plain cast or not at
// all). Printed as a CollateExpr, the shard compares and sorts with the collation the query named.
// (A Const prints its own COLLATE.)
Node *collate(Expr *arg, Oid coll) {
    CollateExpr *c = makeNode(CollateExpr);
    c->arg = arg;
    c->collOid = coll;
    c->location = -1;
    return reinterpret_cast<Node *>(c);
}

Node *printable_collation(Node *node) {
    if (IsA(node, Param)) {
        Param *p = reinterpret_cast<Param *>(node);
        if (OidIsValid(p->paramcollid) && p->paramcollid != get_typcollation(p->paramtype))
            return collate(reinterpret_cast<Expr *>(p), p->paramcollid);
    } else if (IsA(node, RelabelType)) {
        RelabelType *r = reinterpret_cast<RelabelType *>(node);
        const Oid from = exprCollation(reinterpret_cast<Node *>(r->arg));
        if (OidIsValid(r->resultcollid) && r->resultcollid != from) {
            const Oid coll = r->resultcollid;
            if (r->resulttype == exprType(reinterpret_cast<Node *>(r->arg)) &&
                r->resulttypmod == exprTypmod(reinterpret_cast<Node *>(r->arg)))
                return collate(r->arg, coll);
            r->resultcollid = from;  // the cast as such, then the collation on it
            return collate(reinterpret_cast<Expr *>(r), coll);
        }
    }
    return node;
}

Node *printable_mutator(Node *node, void *ctx) {
    if (!node) return nullptr;
    if (IsA(node, Query))
        return reinterpret_cast<Node *>(query_tree_mutator(reinterpret_cast<Query *>(node),
                                                           reinterpret_cast<Node *(*)()>(printable_mutator), ctx, 0));
    Node *out = expression_tree_mutator(node, reinterpret_cast<Node *(*)()>(printable_mutator), ctx);
    if (IsA(out, CaseExpr) && reinterpret_cast<CaseExpr *>(out)->arg) repair_simple_case(reinterpret_cast<CaseExpr *>(out));
    return printable_collation(out);
}

Query *printable_query(Query *q) {
    return query_tree_mutator(q, reinterpret_cast<Node *(*)()>(printable_mutator), nullptr, QTW_DONT_COPY_QUERY);
}

Node *printable_expression(Node *expr) { return printable_mutator(expr, nullptr); }

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

bool ShardStatement::print(const Query *query, const std::string &prefix) {
    std::vector<Marked> marked;
    text_.clear();
    slots_.clear();
    Query *copy = pg::call([&] { return printable_query(static_cast<Query *>(copyObjectImpl(query))); });
    MarkContext ctx{&marked, &prefix, 1};
    pg::call([&] { mark_query(copy, &ctx); });

    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
    pg::CanonicalOutputStyle style;  // constants read back exactly on the node
    text_ = pg::call([&] { return std::string(pg_get_querydef(copy, false)); });
    if (marked.empty()) return true;
    int ntokens = 0;
    const char *sql = text_.c_str();
    int *starts_p = pg::call([&] { return scan_token_starts(sql, &ntokens); });
    std::vector<size_t> starts(starts_p, starts_p + ntokens);
    pfree(starts_p);

    std::vector<bool> placed(marked.size(), false);
    for (size_t k = 0; k < starts.size(); k++) {
        const size_t at = starts[k];
        if (text_.compare(at, prefix.size(), prefix) != 0) continue;
        // Which marker: the digits after the prefix, up to the end of the identifier.
        size_t end = at + prefix.size();
        while (end < text_.size() && is_ident_char(text_[end])) end++;
        const std::string name = text_.substr(at, end - at);
        size_t m = 0;
        while (m < marked.size() && marked[m].marker != name) m++;
        if (m == marked.size()) return false;  // ruleutils renamed an alias that collided
        // A column reference (alias.column) or a whole-row reference is not where the name goes.
        if (k == 0) continue;
        size_t before = k - 1;
        // "<relation> <alias>" or "<relation> AS <alias>" (INSERT's target).
        if (text_.compare(starts[before], 3, "AS ") == 0 && before > 0) before--;
        const Oid relid = marked[m].relid;
        const std::string printed = pg::call([&] {
            return std::string(quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                          get_rel_name(relid)));
        });
        // The name's tokens end right before the token that follows them (a single space apart).
        const size_t name_end = starts[before + 1] - 1;
        if (name_end < printed.size()) continue;
        const size_t name_start = name_end - printed.size();
        if (text_.compare(name_start, printed.size(), printed) != 0 || text_[name_end] != ' ') continue;
        bool token_starts_there = false;
        for (size_t b = before + 1; b-- > 0;)
            if (starts[b] <= name_start) {
                token_starts_there = starts[b] == name_start;
                break;
            }
        if (!token_starts_there) continue;
        if (placed[m]) return false;
        placed[m] = true;
        slots_.push_back({name_start, printed.size(), relid});
    }
    for (size_t m = 0; m < marked.size(); m++)
        if (!placed[m]) return false;
    std::sort(slots_.begin(), slots_.end(), [](const Slot &a, const Slot &b) { return a.start < b.start; });
    return true;
}

ShardStatement::ShardStatement(const Query *query) {
    // ruleutils keeps every alias of a statement unique (it renames one of two that collide), so a
    // user's alias can at worst make a marker unplaceable, never misplace it: then print again with
    // markers nobody can have written. The first try is deterministic, for EXPLAIN and tests.
    if (print(query, "rollup_shard_")) return;
    if (print(query, marker_prefix())) return;
    throw PgError(sqlstate::internal_error, "could not place the shards of a distributed table in: " + text_);
}

std::string ShardStatement::for_shard(int shard_index) const {
    std::string out;
    size_t pos = 0;
    for (const Slot &s : slots_) {
        const metadata::DistTable &t = metadata::get(s.relid);
        if (shard_index < 0 || shard_index >= t.shard_count)
            throw PgError(sqlstate::internal_error, "shard index out of range for " + t.relname);
        out.append(text_, pos, s.start - pos);
        out += t.shards[shard_index].name;
        pos = s.start + s.length;
    }
    out.append(text_, pos, std::string::npos);
    return out;
}

std::string query_for_shard(const Query *query, int shard_index) {
    return ShardStatement(query).for_shard(shard_index);
}

std::string expression_for_node(Node *expr, List *dpcontext) {
    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
    pg::CanonicalOutputStyle style;
    return pg::call([&] {
        Node *printable = printable_expression(static_cast<Node *>(copyObjectImpl(expr)));
        return std::string(deparse_expression(printable, dpcontext, false, false));
    });
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
    const int index = PG_GETARG_INT32(1);
    const char *sql = pg::call([&] { return text_to_cstring(t); });
    Query *query = pg::call([&]() -> Query * {
        List *raw = pg_parse_query(sql);
        if (list_length(raw) != 1) ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("expected one statement")));
        List *queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), sql, NULL, 0, NULL);
        if (list_length(queries) != 1 || linitial_node(Query, queries)->commandType == CMD_UTILITY)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("the statement must rewrite to exactly one query")));
        return linitial_node(Query, queries);
    });
    Query *folded = deparse::fold_for_execution(query, nullptr);
    std::string out = deparse::query_for_shard(folded, index);
    const char *c = out.c_str();
    return pg::call([&] { return PointerGetDatum(cstring_to_text(c)); });
}
