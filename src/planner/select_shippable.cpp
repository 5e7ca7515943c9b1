// What may be evaluated on a shard. Design note: an expression is shipped only if the node computes
// exactly what the coordinator would: built-in objects only (a worker is stock PostgreSQL and may
// not have user-defined functions, or have different ones under the same name), nothing volatile
// (random() per shard is not random() once), and nothing whose text form depends on settings the
// node does not share (DateStyle-dependent casts to text). Stable functions and external Params are
// shipped because the scan folds them into constants at execution time, once for all shards.
#include <string>

#include "planner/select_internal.hpp"

namespace rollup::select {

namespace {

bool builtin(Oid oid) { return oid < FirstNormalObjectId; }

struct ShipContext {
    Index rti;
    bool allow_aggs;
    bool in_agg;
};

// Text output that depends on DateStyle, IntervalStyle, extra_float_digits or lc_monetary.
bool setting_dependent_output(Oid type) {
    switch (type) {
        case DATEOID:
        case TIMEOID:
        case TIMETZOID:
        case TIMESTAMPOID:
        case TIMESTAMPTZOID:
        case INTERVALOID:
        case FLOAT4OID:
        case FLOAT8OID:
        case CASHOID:
        case BYTEAOID:
            return true;
        default:
            return false;
    }
}

// Whether an argument of this type may carry such a value into a text conversion (arrays and rows
// print their elements with the elements' output functions).
bool may_print_setting_dependent(Oid type) {
    type = getBaseType(type);  // a domain prints as its base type
    if (setting_dependent_output(type)) return true;
    if (type == RECORDOID || type_is_rowtype(type)) return true;
    // A range (multirange) prints its bounds with the subtype's output function.
    if (type_is_multirange(type)) return may_print_setting_dependent(get_multirange_range(type));
    if (type_is_range(type)) return may_print_setting_dependent(get_range_subtype(type));
    Oid elem = get_element_type(type);
    return OidIsValid(elem) && may_print_setting_dependent(elem);
}

// A built-in function (or the function of an operator or aggregate) that turns arguments of any
// type into text (format, concat, array_to_string, anytextcat's ||, to_json, json_agg,
// json_object_agg, ...): its declared argument type is polymorphic, "any" or record while the actual
// one prints differently under DateStyle, IntervalStyle, extra_float_digits or bytea_output.
// `args` are the actual argument expressions (TargetEntries of an Aggref are looked through).
bool prints_setting_dependent(Oid funcid, List *args) {
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
    if (!HeapTupleIsValid(tup)) return true;
    Form_pg_proc proc = (Form_pg_proc)GETSTRUCT(tup);
    // Only a function that makes text of what it gets (a string, json, jsonb or xml result) prints
    // its arguments: count("any"), array_agg, lag, array_append, array equality ... do not.
    const Oid ret = proc->prorettype;
    if (!(ret == JSONOID || ret == JSONBOID || ret == XMLOID || TypeCategory(getBaseType(ret)) == TYPCATEGORY_STRING)) {
        ReleaseSysCache(tup);
        return false;
    }
    bool bad = false;
    int i = 0;
    ListCell *lc;
    foreach (lc, args) {
        Node *arg = static_cast<Node *>(lfirst(lc));
        if (IsA(arg, TargetEntry)) arg = reinterpret_cast<Node *>(reinterpret_cast<TargetEntry *>(arg)->expr);
        // Arguments past the declared ones are elements of a VARIADIC parameter (the last one).
        const int at = proc->pronargs == 0 ? -1 : (i < proc->pronargs ? i : proc->pronargs - 1);
        const Oid declared = at < 0 ? InvalidOid : proc->proargtypes.values[at];
        const bool generic = declared == ANYOID || declared == RECORDOID || declared == RECORDARRAYOID ||
                             IsPolymorphicType(declared);
        if (generic && may_print_setting_dependent(exprType(arg))) bad = true;
        i++;
    }
    ReleaseSysCache(tup);
    return bad;
}

// Whether this node itself (not its children) computes a value whose text form, or whose reading
// of text, depends on DateStyle, IntervalStyle, extra_float_digits, bytea_output or lc_monetary:
// those stay canonical in the node sessions, so such a node must not run on a shard.
bool node_depends_on_output_settings(Node *node) {
    switch (nodeTag(node)) {
        case T_FuncExpr: {
            FuncExpr *f = reinterpret_cast<FuncExpr *>(node);
            switch (f->funcid) {
                // JSON into a record: each field is read with its column type's input function (a
                // date under DateStyle, an interval under IntervalStyle, ...).
                case F_JSON_POPULATE_RECORD:
                case F_JSON_POPULATE_RECORDSET:
                case F_JSONB_POPULATE_RECORD:
                case F_JSONB_POPULATE_RECORDSET:
                case F_JSON_TO_RECORD:
                case F_JSON_TO_RECORDSET:
                case F_JSONB_TO_RECORD:
                case F_JSONB_TO_RECORDSET:
                    return true;
                default:
                    return prints_setting_dependent(f->funcid, f->args);
            }
        }
        case T_OpExpr:
        case T_DistinctExpr:
        case T_NullIfExpr: {
            OpExpr *o = reinterpret_cast<OpExpr *>(node);
            set_opfuncid(o);
            return prints_setting_dependent(o->opfuncid, o->args);
        }
        case T_Aggref: {
            Aggref *a = reinterpret_cast<Aggref *>(node);
            // An ordered-set aggregate declares its direct arguments first.
            return prints_setting_dependent(a->aggfnoid, list_concat_copy(a->aggdirectargs, a->args));
        }
        case T_WindowFunc: {
            WindowFunc *w = reinterpret_cast<WindowFunc *>(node);
            return prints_setting_dependent(w->winfnoid, w->args);
        }
        case T_CoerceViaIO: {
            CoerceViaIO *c = reinterpret_cast<CoerceViaIO *>(node);
            Oid in = exprType(reinterpret_cast<Node *>(c->arg));
            // Text output of the input, or text input of the result, may depend on DateStyle (and
            // its field order), IntervalStyle, extra_float_digits, bytea_output or lc_monetary; an
            // array or a row prints (and reads) its elements with the elements' functions.
            return may_print_setting_dependent(in) || may_print_setting_dependent(c->resulttype);
        }
        default:
            return false;
    }
}

bool settings_walker(Node *node, void *context) {
    if (node == nullptr) return false;
    if (IsA(node, Query))
        return query_tree_walker(reinterpret_cast<Query *>(node), reinterpret_cast<bool (*)()>(settings_walker),
                                 context, 0);
    if (node_depends_on_output_settings(node)) return true;
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(settings_walker), context);
}

bool function_ok(Oid funcid) {
    if (!builtin(funcid)) return false;
    return func_volatile(funcid) != PROVOLATILE_VOLATILE;
}

bool ship_walker(Node *node, ShipContext *ctx);

// rollup.realtime_*(constant): the functions real-time views read. They are STABLE, so the scan
// folds them into constants on the coordinator before printing a shard statement; with constant
// arguments nothing of them is left for a node to evaluate.
bool folded_realtime_function(FuncExpr *f) {
    if (builtin(f->funcid) || func_volatile(f->funcid) != PROVOLATILE_STABLE) return false;
    const Oid nsp = get_namespace_oid("rollup", true);
    if (!OidIsValid(nsp) || get_func_namespace(f->funcid) != nsp) return false;
    char *name = get_func_name(f->funcid);
    if (!name || strncmp(name, "realtime_", 9) != 0) return false;
    ListCell *lc;
    foreach (lc, f->args)
        if (!IsA(lfirst(lc), Const)) return false;
    return builtin(f->funcresulttype);
}

bool sortclauses_ok(List *clauses) {
    ListCell *lc;
    foreach (lc, clauses) {
        SortGroupClause *s = lfirst_node(SortGroupClause, lc);
        if (!builtin(s->eqop) || (OidIsValid(s->sortop) && !builtin(s->sortop))) return false;
    }
    return true;
}

// Returns true when NOT shippable (walker convention: true stops the walk).
bool ship_walker(Node *node, ShipContext *ctx) {
    if (node == nullptr) return false;
    if (IsA(node, List)) return expression_tree_walker(node, reinterpret_cast<bool (*)()>(ship_walker), ctx);
    Oid coll = exprCollation(node);
    if (OidIsValid(coll) && !builtin(coll)) return true;
    Oid incoll = exprInputCollation(node);
    if (OidIsValid(incoll) && !builtin(incoll)) return true;
    switch (nodeTag(node)) {
        case T_Var: {
            Var *v = reinterpret_cast<Var *>(node);
            return !((ctx->rti == 0 || v->varno == static_cast<int>(ctx->rti)) && v->varlevelsup == 0 && v->varattno > 0 &&
                     builtin(v->vartype));
        }
        case T_Const:
            return !builtin(reinterpret_cast<Const *>(node)->consttype);
        case T_Param: {
            Param *p = reinterpret_cast<Param *>(node);
            return !(p->paramkind == PARAM_EXTERN && builtin(p->paramtype));
        }
        case T_FuncExpr: {
            FuncExpr *f = reinterpret_cast<FuncExpr *>(node);
            if (folded_realtime_function(f)) return false;
            if (f->funcretset || !function_ok(f->funcid) || !builtin(f->funcresulttype)) return true;
            if (node_depends_on_output_settings(node)) return true;
            break;
        }
        case T_OpExpr:
        case T_DistinctExpr:
        case T_NullIfExpr: {
            OpExpr *o = reinterpret_cast<OpExpr *>(node);
            set_opfuncid(o);
            if (o->opretset || !builtin(o->opno) || !function_ok(o->opfuncid)) return true;
            if (node_depends_on_output_settings(node)) return true;
            break;
        }
        case T_ScalarArrayOpExpr: {
            ScalarArrayOpExpr *o = reinterpret_cast<ScalarArrayOpExpr *>(node);
            set_sa_opfuncid(o);
            if (!builtin(o->opno) || !function_ok(o->opfuncid)) return true;
            break;
        }
        case T_CoerceViaIO: {
            CoerceViaIO *c = reinterpret_cast<CoerceViaIO *>(node);
            Oid in = exprType(reinterpret_cast<Node *>(c->arg));
            if (!builtin(c->resulttype) || !builtin(in) || node_depends_on_output_settings(node)) return true;
            break;
        }
        case T_RelabelType:
            if (!builtin(reinterpret_cast<RelabelType *>(node)->resulttype)) return true;
            break;
        case T_ArrayCoerceExpr:
            if (!builtin(reinterpret_cast<ArrayCoerceExpr *>(node)->resulttype)) return true;
            break;
        case T_CaseExpr:
        case T_CaseWhen:
        case T_CaseTestExpr:
        case T_CoalesceExpr:
        case T_MinMaxExpr:
        case T_ArrayExpr:
        case T_BoolExpr:
        case T_NullTest:
        case T_BooleanTest:
        case T_SQLValueFunction:
        case T_List:
            if (!builtin(exprType(node))) return true;
            break;
        case T_Aggref: {
            Aggref *a = reinterpret_cast<Aggref *>(node);
            if (!ctx->allow_aggs || ctx->in_agg || a->agglevelsup != 0) return true;
            if (!builtin(a->aggfnoid) || !builtin(a->aggtype)) return true;
            if (node_depends_on_output_settings(node)) return true;
            if (!sortclauses_ok(a->aggorder) || !sortclauses_ok(a->aggdistinct)) return true;
            ctx->in_agg = true;
            bool bad = ship_walker(reinterpret_cast<Node *>(a->aggdirectargs), ctx);
            ListCell *lc;
            foreach (lc, a->args) {
                if (bad) break;
                bad = ship_walker(reinterpret_cast<Node *>(lfirst_node(TargetEntry, lc)->expr), ctx);
            }
            if (!bad) bad = ship_walker(reinterpret_cast<Node *>(a->aggfilter), ctx);
            ctx->in_agg = false;
            return bad;
        }
        default:
            return true;  // sublinks, subplans, window functions, rows, field selects, ...
    }
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(ship_walker), ctx);
}

}  // namespace

const char *mode_name(Mode m) {
    switch (m) {
        case Mode::Scan: return "scan";
        case Mode::FullAgg: return "aggregate pushdown";
        case Mode::PartialAgg: return "partial aggregate";
        case Mode::Query: return "query pushdown";
        case Mode::JoinScan: return "join pushdown";
    }
    return "?";
}

bool is_shippable(Node *expr, Index rti, bool allow_aggs) {
    ShipContext ctx{rti, allow_aggs, false};
    return !pg::call([&] { return ship_walker(expr, &ctx); });
}

bool is_shippable_anywhere(Node *expr, bool allow_aggs) { return is_shippable(expr, 0, allow_aggs); }

bool depends_on_output_settings(Node *node) { return pg::call([&] { return settings_walker(node, nullptr); }); }

core::CombineKind combine_kind(const Aggref *agg) {
    core::AggFacts f;
    f.builtin = builtin(agg->aggfnoid);
    f.plain_kind = agg->aggkind == AGGKIND_NORMAL && agg->aggdirectargs == NIL;
    f.has_distinct = agg->aggdistinct != NIL;
    f.has_order_by = agg->aggorder != NIL;
    f.variadic = agg->aggvariadic;
    switch (agg->aggfnoid) {
        case F_SUM_INT2: f.family = core::AggFamily::Sum; f.arg = core::ArgCategory::SmallInt; break;
        case F_SUM_INT4: f.family = core::AggFamily::Sum; f.arg = core::ArgCategory::SmallInt; break;
        case F_SUM_INT8: f.family = core::AggFamily::Sum; f.arg = core::ArgCategory::BigInt; break;
        case F_SUM_NUMERIC: f.family = core::AggFamily::Sum; f.arg = core::ArgCategory::Numeric; break;
        case F_AVG_INT2:
        case F_AVG_INT4: f.family = core::AggFamily::Avg; f.arg = core::ArgCategory::SmallInt; break;
        case F_AVG_INT8: f.family = core::AggFamily::Avg; f.arg = core::ArgCategory::BigInt; break;
        case F_AVG_NUMERIC: f.family = core::AggFamily::Avg; f.arg = core::ArgCategory::Numeric; break;
        case F_AVG_FLOAT4:
        case F_AVG_FLOAT8: f.family = core::AggFamily::Avg; f.arg = core::ArgCategory::Float; break;
        case F_AVG_INTERVAL: f.family = core::AggFamily::Avg; f.arg = core::ArgCategory::Other; break;
        default: break;
    }
    Oid fn = agg->aggfnoid;
    struct Row {
        bool found;
        Oid transtype, finalfn, combinefn;
    };
    Row r = pg::call([&] {
        Row out{false, InvalidOid, InvalidOid, InvalidOid};
        HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(fn));
        if (HeapTupleIsValid(tup)) {
            Form_pg_aggregate a = reinterpret_cast<Form_pg_aggregate>(GETSTRUCT(tup));
            out = {true, a->aggtranstype, a->aggfinalfn, a->aggcombinefn};
            ReleaseSysCache(tup);
        }
        return out;
    });
    if (!r.found) return core::CombineKind::Unsupported;
    f.internal_state = r.transtype == INTERNALOID;
    f.has_final_fn = OidIsValid(r.finalfn);
    f.has_combine_fn = OidIsValid(r.combinefn);
    f.state_is_result = r.transtype == agg->aggtype;
    return core::classify(f);
}

List *spec_to_list(const ScanSpec &s) {
    return pg::call([&] {
        List *l = NIL;
        l = lappend(l, makeInteger(static_cast<int>(s.mode)));
        l = lappend(l, makeConst(OIDOID, -1, InvalidOid, sizeof(Oid), ObjectIdGetDatum(s.relid), false, true));
        l = lappend(l, s.fetch_attnums);
        l = lappend(l, s.remote_exprs);
        l = lappend(l, makeInteger(s.ngroup));
        l = lappend(l, s.group_eqops);
        l = lappend(l, s.remote_quals);
        l = lappend(l, makeInteger(s.all_shards ? 1 : 0));
        l = lappend(l, s.shards);
        l = lappend(l, s.prune_exprs);
        l = lappend(l, s.query);
        return l;
    });
}

ScanSpec spec_from_list(List *l) {
    ScanSpec s;
    s.mode = static_cast<Mode>(intVal(list_nth(l, 0)));
    s.relid = DatumGetObjectId(static_cast<Const *>(list_nth(l, 1))->constvalue);
    s.fetch_attnums = static_cast<List *>(list_nth(l, 2));
    s.remote_exprs = static_cast<List *>(list_nth(l, 3));
    s.ngroup = intVal(list_nth(l, 4));
    s.group_eqops = static_cast<List *>(list_nth(l, 5));
    s.remote_quals = static_cast<List *>(list_nth(l, 6));
    s.all_shards = intVal(list_nth(l, 7)) != 0;
    s.shards = static_cast<List *>(list_nth(l, 8));
    s.prune_exprs = static_cast<List *>(list_nth(l, 9));
    s.query = static_cast<Query *>(list_nth(l, 10));
    return s;
}

}  // namespace rollup::select
