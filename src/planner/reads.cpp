// Distributed SELECT planning. Design note: two hooks, and PostgreSQL plans everything else.
//  1. set_rel_pathlist_hook: a distributed table's shell (always empty) is never scanned; its paths
//     are replaced by one RollupScan path that fetches the needed columns from every shard (after
//     pruning), with the shippable restriction clauses evaluated on the shards. Whatever sits above
//     (joins with local tables, window functions, DISTINCT, ORDER BY, LIMIT, sublinks) is planned by
//     PostgreSQL over that scan, so every query gets vanilla's answer: the fallback.
//  2. create_upper_paths_hook (GROUP_AGG): when the query's only relation is one distributed table
//     and every clause ships, a RollupScan that aggregates on the shards competes with (and, being
//     far cheaper, beats) PostgreSQL's Agg over the scan: full pushdown when GROUP BY has the
//     distribution column or a single shard is read, partial aggregation otherwise. Its scan tuple
//     holds the group expressions and the Aggrefs, so setrefs maps the final target list and HAVING
//     onto it and PostgreSQL computes `sum(x) / count(*)` and friends exactly as it would.
//  3. planner_hook: a whole query over co-located tables joined on their distribution columns (or
//     one table with ORDER BY ... LIMIT) is rewritten over a placeholder relation whose path is a
//     RollupScan running the query (or its joins) per shard index (select_pushdown.cpp).
// It must never: touch queries without distributed tables (the cost is one cached check per base
// relation), or plan the result relation of INSERT/UPDATE/DELETE (the writes planner's business).
#include <string>
#include <vector>

#include "core/partial_agg.hpp"

#include "executor/rollup_scan.hpp"
#include "metadata/metadata_cache.hpp"
#include "planner/reads.hpp"
#include "planner/select_internal.hpp"

namespace rollup::reads {

namespace {

set_rel_pathlist_hook_type prev_rel_pathlist = nullptr;
planner_hook_type prev_planner = nullptr;

// Placeholders of pushed-down queries being planned (innermost last): List of List(Const rte
// pointer, mode Integer, inner Query, Const relid). Plain PostgreSQL data, popped by PG_FINALLY.
List *pending_pushdowns = NIL;
create_upper_paths_hook_type prev_upper_paths = nullptr;

// What the base-relation path knows, kept in CustomPath.custom_private (paths are never copied).
enum { PP_KIND = 0, PP_PUSHED, PP_RTI };  // scan path: kind 0, pushed RestrictInfos, rti
enum { UP_KIND = 0, UP_SPEC, UP_TLIST, UP_HAVING };  // agg path: kind 1, spec list, scan tlist, having
enum { QP_KIND = 0, QP_SPEC };                      // pushdown path: kind 2, spec list

Plan *plan_custom_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist, List *clauses,
                       List *custom_plans);

CustomPathMethods path_methods = {"RollupScan", plan_custom_path, nullptr};

// The base relation's RollupScan path, possibly under the projection that computes group keys.
bool is_rollup_scan_path(Path *p) {
    if (p && IsA(p, ProjectionPath)) p = reinterpret_cast<ProjectionPath *>(p)->subpath;
    return p && IsA(p, CustomPath) && reinterpret_cast<CustomPath *>(p)->methods == &path_methods &&
           intVal(linitial(reinterpret_cast<CustomPath *>(p)->custom_private)) == 0;
}

Node *renumber(Node *expr, Index rti) {
    return pg::call([&] {
        Node *copy = static_cast<Node *>(copyObjectImpl(expr));
        if (rti != 1) ChangeVarNodes(copy, static_cast<int>(rti), 1, 0);
        return copy;
    });
}

// Rough per-shard costs: a round trip per node plus transfer of every row.
constexpr double kStartupCost = 100.0;
constexpr double kRowCost = 0.02;
constexpr double kRowsPerShard = 10000.0;

void ensure_no_row_locks(PlannerInfo *root, Index rti, const metadata::DistTable &t) {
    ListCell *lc;
    foreach (lc, root->rowMarks) {
        PlanRowMark *rc = static_cast<PlanRowMark *>(lfirst(lc));
        if (rc->rti == rti && rc->strength != LCS_NONE)
            throw PgError(sqlstate::feature_not_supported,
                          "SELECT ... FOR UPDATE/SHARE is not supported on distributed table \"" + t.relname + "\"",
                          "", "Lock the rows with an UPDATE that filters on the distribution column instead.");
    }
}

void add_scan_path(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte) {
    if (rte->rtekind != RTE_RELATION || !metadata::any_distributed()) return;
    const metadata::DistTable *t = metadata::lookup(rte->relid);
    if (!t) return;
    if (root->parse->resultRelation == static_cast<int>(rti)) return;  // the writes planner's
    ensure_no_row_locks(root, rti, *t);

    List *pushed = NIL;
    List *pushed_exprs = NIL;
    ListCell *lc;
    foreach (lc, rel->baserestrictinfo) {
        RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
        if (ri->pseudoconstant) continue;
        if (!select::is_shippable(reinterpret_cast<Node *>(ri->clause), rti, false)) continue;
        pushed = pg::call([&] { return lappend(pushed, ri); });
        pushed_exprs = pg::call([&] { return lappend(pushed_exprs, ri->clause); });
    }
    select::Pruning pr = select::prune_at_plan_time(*t, pushed_exprs, rti);
    double tasks = pr.all ? t->shard_count : static_cast<double>(pr.shards.size());

    // The shell is empty and has no statistics: assume kRowsPerShard rows in each shard read, so that
    // moving rows to the coordinator looks as expensive as it is and work shipped to shards wins.
    double selectivity = pg::call([&] {
        return clauselist_selectivity(root, rel->baserestrictinfo, 0, JOIN_INNER, nullptr);
    });
    rel->tuples = kRowsPerShard * t->shard_count;
    rel->rows = pg::call([&] { return clamp_row_est(kRowsPerShard * tasks * selectivity); });

    CustomPath *cp = pg::call([] { return makeNode(CustomPath); });
    cp->path.pathtype = T_CustomScan;
    cp->path.parent = rel;
    cp->path.pathtarget = rel->reltarget;
    cp->path.param_info = nullptr;
    cp->path.parallel_aware = false;
    cp->path.parallel_safe = false;
    cp->path.parallel_workers = 0;
    cp->path.rows = rel->rows;
    cp->path.startup_cost = kStartupCost + tasks;
    cp->path.total_cost = cp->path.startup_cost + rel->rows * (cpu_tuple_cost + kRowCost);
    cp->path.pathkeys = NIL;
    cp->flags = 0;
    cp->custom_paths = NIL;
    cp->methods = &path_methods;
    cp->custom_private = pg::call([&] {
        return list_make3(makeInteger(0), pushed, makeInteger(static_cast<int>(rti)));
    });
    rel->pathlist = NIL;
    rel->partial_pathlist = NIL;
    rel->cheapest_parameterized_paths = NIL;
    pg::call([&] { add_path(rel, &cp->path); });
}

// The placeholder of a pushed-down query: its only path runs the query on the shards.
void add_pushdown_path(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte) {
    List *entry = nullptr;
    ListCell *lc;
    foreach (lc, pending_pushdowns) {
        List *e = static_cast<List *>(lfirst(lc));
        if (DatumGetPointer(linitial_node(Const, e)->constvalue) == reinterpret_cast<Pointer>(rte)) entry = e;
    }
    if (!entry) return;
    select::ScanSpec spec;
    spec.mode = static_cast<select::Mode>(intVal(lsecond(entry)));
    spec.query = lthird_node(Query, entry);
    spec.relid = DatumGetObjectId(lfourth_node(Const, entry)->constvalue);
    const metadata::DistTable &t = metadata::get(spec.relid);
    double rows = spec.mode == select::Mode::Query && spec.query->limitCount ? 100 : kRowsPerShard * t.shard_count * 0.1;
    rel->rows = rows;
    CustomPath *cp = pg::call([] { return makeNode(CustomPath); });
    cp->path.pathtype = T_CustomScan;
    cp->path.parent = rel;
    cp->path.pathtarget = rel->reltarget;
    cp->path.rows = rows;
    cp->path.startup_cost = kStartupCost + t.shard_count;
    cp->path.total_cost = cp->path.startup_cost + rows * (cpu_tuple_cost + kRowCost);
    cp->methods = &path_methods;
    List *spec_list = select::spec_to_list(spec);
    cp->custom_private = pg::call([&] { return list_make2(makeInteger(2), spec_list); });
    rel->pathlist = NIL;
    rel->partial_pathlist = NIL;
    rel->cheapest_parameterized_paths = NIL;
    pg::call([&] { add_path(rel, &cp->path); });
}

void rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte) {
    if (prev_rel_pathlist) prev_rel_pathlist(root, rel, rti, rte);
    if (rte->rtekind == RTE_VALUES) {
        if (pending_pushdowns != NIL) pg::guard([&] { add_pushdown_path(root, rel, rti, rte); });
        return;
    }
    pg::guard([&] { add_scan_path(root, rel, rti, rte); });
}

PlannedStmt *call_prev_planner(Query *parse, const char *qs, int opts, ParamListInfo bp) {
    return prev_planner ? prev_planner(parse, qs, opts, bp) : standard_planner(parse, qs, opts, bp);
}

List *pushdown_entry(Query *parse) {
    if (!metadata::any_distributed() || parse->commandType != CMD_SELECT) return NIL;
    select::Pushdown pd = select::plan_pushdown(parse);
    if (!pd.outer) return NIL;
    Oid relid = InvalidOid;
    ListCell *lc;
    foreach (lc, pd.inner->rtable) {
        RangeTblEntry *r = static_cast<RangeTblEntry *>(lfirst(lc));
        if (r->rtekind == RTE_RELATION) {
            relid = r->relid;
            break;
        }
    }
    return pg::call([&] {
        return list_make5(makeConst(INTERNALOID, -1, InvalidOid, sizeof(Pointer), PointerGetDatum(pd.rte), false, true),
                          makeInteger(static_cast<int>(pd.mode)), pd.inner,
                          makeConst(OIDOID, -1, InvalidOid, sizeof(Oid), ObjectIdGetDatum(relid), false, true),
                          pd.outer);
    });
}

PlannedStmt *reads_planner(Query *parse, const char *qs, int opts, ParamListInfo bp) {
    if (parse->commandType != CMD_SELECT) return call_prev_planner(parse, qs, opts, bp);
    List *entry = pg::guard([&] { return pushdown_entry(parse); });
    if (entry == NIL) return call_prev_planner(parse, qs, opts, bp);
    PlannedStmt *volatile result = nullptr;
    pending_pushdowns = lappend(pending_pushdowns, entry);
    PG_TRY();
    { result = call_prev_planner(llast_node(Query, entry), qs, opts, bp); }
    PG_FINALLY();
    { pending_pushdowns = list_delete_last(pending_pushdowns); }
    PG_END_TRY();
    return result;
}

// ---- aggregation pushdown ----

struct TargetCheck {
    List *group_exprs;
    List *aggrefs;
    bool ok;
};

// Every Var of the grouping target must sit inside a group expression or an Aggref.
bool target_walker(Node *node, TargetCheck *tc) {
    if (!node) return false;
    ListCell *lc;
    foreach (lc, tc->group_exprs)
        if (equal(node, lfirst(lc))) return false;
    if (IsA(node, Aggref)) {
        if (!list_member(tc->aggrefs, node)) tc->aggrefs = lappend(tc->aggrefs, node);
        return false;
    }
    if (IsA(node, Var) || IsA(node, PlaceHolderVar) || IsA(node, WindowFunc) || IsA(node, GroupingFunc) ||
        IsA(node, SubLink) || IsA(node, SubPlan)) {
        tc->ok = false;
        return true;
    }
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(target_walker), tc);
}

void add_agg_path(PlannerInfo *root, RelOptInfo *input_rel, RelOptInfo *output_rel, GroupPathExtraData *extra) {
    Query *parse = root->parse;
    if (input_rel->reloptkind != RELOPT_BASEREL || !input_rel->cheapest_total_path) return;
    Path *scan = input_rel->cheapest_total_path;
    if (!is_rollup_scan_path(scan)) return;
    if (IsA(scan, ProjectionPath)) scan = reinterpret_cast<ProjectionPath *>(scan)->subpath;
    if (parse->groupingSets || parse->constraintDeps || parse->hasTargetSRFs) return;
    if (!extra || extra->patype != PARTITIONWISE_AGGREGATE_NONE) return;
    CustomPath *sp = reinterpret_cast<CustomPath *>(scan);
    List *pushed = static_cast<List *>(list_nth(sp->custom_private, PP_PUSHED));
    Index rti = static_cast<Index>(intVal(list_nth(sp->custom_private, PP_RTI)));
    if (list_length(pushed) != list_length(input_rel->baserestrictinfo)) return;  // a clause stays local
    RangeTblEntry *rte = root->simple_rte_array[rti];
    const metadata::DistTable *t = metadata::lookup(rte->relid);
    if (!t) return;

    // Group expressions, in groupClause order.
    List *group_exprs = NIL;
    List *eqops = NIL;
    bool hashable = true;  // every group key hashes (the parser's element-aware test)
    bool has_dist_key = false;
    ListCell *lc;
    foreach (lc, parse->groupClause) {
        SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
        Node *e = pg::call([&] { return get_sortgroupclause_expr(sgc, root->processed_tlist); });
        if (!select::is_shippable(e, rti, false)) return;
        if (!OidIsValid(sgc->eqop)) return;
        group_exprs = pg::call([&] { return lappend(group_exprs, e); });
        eqops = pg::call([&] { return lappend_oid(eqops, sgc->eqop); });
        hashable = hashable && sgc->hashable;
        Node *stripped = e;
        while (IsA(stripped, RelabelType)) stripped = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(stripped)->arg);
        if (IsA(stripped, Var) && reinterpret_cast<Var *>(stripped)->varattno == t->dist_attnum)
            has_dist_key = true;
    }
    PathTarget *target = root->upper_targets[UPPERREL_GROUP_AGG];
    if (!target) return;
    TargetCheck tc{group_exprs, NIL, true};
    pg::call([&] {
        target_walker(reinterpret_cast<Node *>(target->exprs), &tc);
        if (tc.ok) target_walker(extra->havingQual, &tc);
    });
    if (!tc.ok) return;

    List *pushed_exprs = NIL;
    foreach (lc, pushed) pushed_exprs = pg::call([&] { return lappend(pushed_exprs, lfirst_node(RestrictInfo, lc)->clause); });
    select::Pruning pr = select::prune_at_plan_time(*t, pushed_exprs, rti);
    bool single_shard = !pr.all && pr.shards.size() <= 1 && pr.prune_exprs == NIL;

    select::Mode mode = (has_dist_key || single_shard) ? select::Mode::FullAgg : select::Mode::PartialAgg;
    // The combine step groups the shards' rows in a hash table keyed by the group keys' equality:
    // a key type without hash support (bit, varbit, tsvector, ...) is grouped by PostgreSQL instead,
    // over the fetched rows (it sorts).
    // (An array's equality has a hash function whatever its element type: the parser's flag looks
    // at the element too.)
    if (mode == select::Mode::PartialAgg && !hashable) return;
    foreach (lc, tc.aggrefs) {
        Aggref *a = static_cast<Aggref *>(lfirst(lc));
        if (!select::is_shippable(reinterpret_cast<Node *>(a), rti, true)) return;
        if (mode == select::Mode::PartialAgg && select::combine_kind(a) == core::CombineKind::Unsupported) return;
    }

    select::ScanSpec spec;
    spec.mode = mode;
    spec.relid = t->relid;
    spec.ngroup = list_length(group_exprs);
    spec.group_eqops = eqops;
    List *scan_tlist = NIL;
    int resno = 1;
    foreach (lc, group_exprs) {
        Node *e = static_cast<Node *>(lfirst(lc));
        spec.remote_exprs = pg::call([&] { return lappend(spec.remote_exprs, renumber(e, rti)); });
        scan_tlist = pg::call([&] { return lappend(scan_tlist, makeTargetEntry(static_cast<Expr *>(copyObjectImpl(e)), resno, nullptr, false)); });
        resno++;
    }
    foreach (lc, tc.aggrefs) {
        Node *e = static_cast<Node *>(lfirst(lc));
        spec.remote_exprs = pg::call([&] { return lappend(spec.remote_exprs, renumber(e, rti)); });
        scan_tlist = pg::call([&] { return lappend(scan_tlist, makeTargetEntry(static_cast<Expr *>(copyObjectImpl(e)), resno, nullptr, false)); });
        resno++;
    }
    foreach (lc, pushed_exprs)
        spec.remote_quals = pg::call([&] { return lappend(spec.remote_quals, renumber(static_cast<Node *>(lfirst(lc)), rti)); });
    spec.all_shards = pr.all;
    for (int s : pr.shards) spec.shards = pg::call([&] { return lappend_int(spec.shards, s); });
    spec.prune_exprs = pr.prune_exprs;

    double tasks = pr.all ? t->shard_count : static_cast<double>(pr.shards.size());
    double rows = output_rel->rows > 0 ? output_rel->rows : parse->groupClause == NIL ? 1 : scan->rows;
    CustomPath *cp = pg::call([] { return makeNode(CustomPath); });
    cp->path.pathtype = T_CustomScan;
    cp->path.parent = output_rel;
    cp->path.pathtarget = target;
    cp->path.param_info = nullptr;
    cp->path.parallel_aware = false;
    cp->path.parallel_safe = false;
    cp->path.parallel_workers = 0;
    cp->path.rows = rows;
    // Cheaper than any aggregation on the coordinator over the fetched rows (which it replaces):
    // the scan's start-up plus less per output row than the scan costs per input row.
    cp->path.startup_cost = kStartupCost + tasks;
    cp->path.total_cost = cp->path.startup_cost + rows * cpu_tuple_cost * 0.5;
    cp->path.pathkeys = NIL;
    cp->flags = 0;
    cp->custom_paths = NIL;
    cp->methods = &path_methods;
    List *spec_list = select::spec_to_list(spec);
    List *having = reinterpret_cast<List *>(extra->havingQual);
    cp->custom_private = pg::call([&] { return list_make4(makeInteger(1), spec_list, scan_tlist, having); });
    pg::call([&] { add_path(output_rel, &cp->path); });
}

void upper_paths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel, RelOptInfo *output_rel,
                 void *extra) {
    if (prev_upper_paths) prev_upper_paths(root, stage, input_rel, output_rel, extra);
    if (stage != UPPERREL_GROUP_AGG) return;
    if (!is_rollup_scan_path(input_rel->cheapest_total_path)) return;  // cheap: no distributed scan
    pg::guard([&] { add_agg_path(root, input_rel, output_rel, static_cast<GroupPathExtraData *>(extra)); });
}

// ---- plans ----

Plan *plan_scan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist, List *clauses) {
    List *pushed = static_cast<List *>(list_nth(best_path->custom_private, PP_PUSHED));
    Index rti = rel->relid;
    RangeTblEntry *rte = root->simple_rte_array[rti];
    const metadata::DistTable &t = metadata::get(rte->relid);

    List *local = NIL, *remote = NIL, *pushed_exprs = NIL;
    ListCell *lc;
    foreach (lc, clauses) {
        RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
        if (ri->pseudoconstant) continue;
        if (list_member_ptr(pushed, ri)) {
            remote = pg::call([&] { return lappend(remote, renumber(reinterpret_cast<Node *>(ri->clause), rti)); });
            pushed_exprs = pg::call([&] { return lappend(pushed_exprs, ri->clause); });
        } else {
            local = pg::call([&] { return lappend(local, ri->clause); });
        }
    }
    select::Pruning pr = select::prune_at_plan_time(t, pushed_exprs, rti);

    // Columns the coordinator needs: of the target list and of the clauses evaluated locally.
    Bitmapset *attrs = nullptr;
    pg::call([&] {
        pull_varattnos(reinterpret_cast<Node *>(tlist), rti, &attrs);
        pull_varattnos(reinterpret_cast<Node *>(local), rti, &attrs);
    });
    bool whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);
    Oid relid = rte->relid;
    struct Atts {
        int n;
        bool *dropped;
    };
    Atts atts = pg::call([&] {
        Relation r = relation_open(relid, NoLock);
        Atts out{RelationGetNumberOfAttributes(r), nullptr};
        out.dropped = static_cast<bool *>(palloc(sizeof(bool) * (out.n + 1)));
        for (int i = 0; i < out.n; i++) out.dropped[i] = TupleDescAttr(RelationGetDescr(r), i)->attisdropped;
        relation_close(r, NoLock);
        return out;
    });
    select::ScanSpec spec;
    spec.mode = select::Mode::Scan;
    spec.relid = relid;
    for (int a = 1; a <= atts.n; a++) {
        if (atts.dropped[a - 1]) continue;
        if (!whole_row && !bms_is_member(a - FirstLowInvalidHeapAttributeNumber, attrs)) continue;
        spec.fetch_attnums = pg::call([&] { return lappend_int(spec.fetch_attnums, a); });
    }
    // No column needed (count(*) over a UNION ALL, EXISTS): rows still count, and a row of no
    // columns does not survive the local path (a PGresult cannot hold one). Fetch one column.
    for (int a = 1; spec.fetch_attnums == NIL && a <= atts.n; a++)
        if (!atts.dropped[a - 1]) spec.fetch_attnums = pg::call([&] { return lappend_int(spec.fetch_attnums, a); });
    spec.remote_quals = remote;
    spec.all_shards = pr.all;
    for (int s : pr.shards) spec.shards = pg::call([&] { return lappend_int(spec.shards, s); });
    spec.prune_exprs = pr.prune_exprs;

    CustomScan *cs = pg::call([] { return makeNode(CustomScan); });
    cs->scan.scanrelid = rti;
    cs->scan.plan.targetlist = tlist;
    cs->scan.plan.qual = local;
    cs->flags = best_path->flags;
    cs->custom_plans = NIL;
    cs->custom_exprs = NIL;
    cs->custom_private = select::spec_to_list(spec);
    cs->custom_scan_tlist = NIL;
    cs->methods = scan::methods();
    return &cs->scan.plan;
}

Plan *plan_agg(CustomPath *best_path, List *tlist) {
    CustomScan *cs = pg::call([] { return makeNode(CustomScan); });
    cs->scan.scanrelid = 0;
    cs->scan.plan.targetlist = tlist;
    cs->scan.plan.qual = static_cast<List *>(list_nth(best_path->custom_private, UP_HAVING));
    cs->flags = best_path->flags;
    cs->custom_plans = NIL;
    cs->custom_exprs = NIL;
    cs->custom_private = static_cast<List *>(list_nth(best_path->custom_private, UP_SPEC));
    cs->custom_scan_tlist = static_cast<List *>(list_nth(best_path->custom_private, UP_TLIST));
    cs->methods = scan::methods();
    return &cs->scan.plan;
}

// The placeholder's columns come from the shards (scanrelid 0: there is no relation to open).
Plan *plan_pushdown(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist, List *clauses) {
    Index rti = rel->relid;
    RangeTblEntry *rte = root->simple_rte_array[rti];
    return pg::call([&] {
        List *scan_tlist = NIL;
        int k = 1;
        ListCell *t1, *t2, *t3;
        forthree (t1, rte->coltypes, t2, rte->coltypmods, t3, rte->colcollations) {
            Var *v = makeVar(rti, static_cast<AttrNumber>(k), lfirst_oid(t1), lfirst_int(t2), lfirst_oid(t3), 0);
            scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(v), k, nullptr, false));
            k++;
        }
        CustomScan *cs = makeNode(CustomScan);
        cs->scan.scanrelid = 0;
        cs->scan.plan.targetlist = tlist;
        cs->scan.plan.qual = extract_actual_clauses(clauses, false);
        cs->flags = best_path->flags;
        cs->custom_plans = NIL;
        cs->custom_exprs = NIL;
        cs->custom_private = static_cast<List *>(list_nth(best_path->custom_private, QP_SPEC));
        cs->custom_scan_tlist = scan_tlist;
        cs->custom_relids = bms_make_singleton(static_cast<int>(rti));
        cs->methods = scan::methods();
        return &cs->scan.plan;
    });
}

Plan *plan_custom_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist, List *clauses,
                       List *custom_plans) {
    return pg::guard([&]() -> Plan * {
        int kind = intVal(linitial(best_path->custom_private));
        if (kind == 0) return plan_scan(root, rel, best_path, tlist, clauses);
        if (kind == 2) return plan_pushdown(root, rel, best_path, tlist, clauses);
        return plan_agg(best_path, tlist);
    });
}

}  // namespace

void init() {
    prev_rel_pathlist = set_rel_pathlist_hook;
    set_rel_pathlist_hook = rel_pathlist;
    prev_upper_paths = create_upper_paths_hook;
    create_upper_paths_hook = upper_paths;
    prev_planner = planner_hook;
    planner_hook = reads_planner;
    scan::init();
}

}  // namespace rollup::reads
