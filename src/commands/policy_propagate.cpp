#include <functional>
#include <map>
#include <string>
#include <vector>

#include "commands/policy_propagate.hpp"
#include "executor/remote_exec.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/pinned_settings.hpp"

namespace rollup::commands {

namespace {

// A policy runs on the nodes as well as on the coordinator, in sessions that log in as the current
// user: it must compute the same there. current_user / current_role / user do; session_user, settings
// (current_setting), the client's address, subqueries over other tables, stable or volatile
// functions and user-defined functions may not. PostgreSQL-style C: returns what is wrong, or NULL.
bool policy_walker(Node *node, const char **what) {
    if (!node) return false;
    switch (nodeTag(node)) {
        case T_SQLValueFunction: {
            SQLValueFunctionOp op = reinterpret_cast<SQLValueFunction *>(node)->op;
            if (op == SVFOP_CURRENT_USER || op == SVFOP_CURRENT_ROLE || op == SVFOP_USER) return false;
            *what = op == SVFOP_SESSION_USER ? "session_user" : "the current date or time";
            return true;
        }
        case T_SubLink:
        case T_SubPlan:
            *what = "a subquery";
            return true;
        case T_Param:
            *what = "a parameter";
            return true;
        default:
            break;
    }
    if (check_functions_in_node(node,
                                [](Oid f, void *) {
                                    return f >= FirstNormalObjectId || func_volatile(f) != PROVOLATILE_IMMUTABLE;
                                },
                                nullptr)) {
        *what = "a function that is not a built-in immutable one (e.g. current_setting, now, a user function)";
        return true;
    }
    return expression_tree_walker(node, reinterpret_cast<bool (*)()>(policy_walker), what);
}

void ensure_policy_portable(Node *expr, const char *policy, Oid relid) {
    const char *what = nullptr;
    if (!policy_walker(expr, &what)) return;
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("policy \"%s\" of distributed table \"%s\" uses %s", policy, get_rel_name(relid), what),
                    errdetail("Policies are enforced on the shards too, by sessions that act as the current user: "
                              "they must compute the same there as on the coordinator."),
                    errhint("Write the policy with columns, constants, built-in immutable functions and "
                            "current_user.")));
}

// PostgreSQL-style C (palloc'd; may ereport): the table's policies as CREATE POLICY statements on
// `shard` (a List of C strings), printed from pg_policy under the node settings (names qualified,
// literals standard).
List *policy_statements_c(Oid relid, const char *shard) {
    List *out = NIL;
    StringInfoData buf;
    List *dpcontext = deparse_context_for(get_rel_name(relid), relid);
    Relation pol = table_open(PolicyRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
    SysScanDesc scan = systable_beginscan(pol, PolicyPolrelidPolnameIndexId, true, NULL, 1, &key);
    HeapTuple tup;
    while ((tup = systable_getnext(scan)) != NULL) {
        Form_pg_policy p = (Form_pg_policy)GETSTRUCT(tup);
        initStringInfo(&buf);
        const char *cmd = "ALL";
        switch (p->polcmd) {
            case ACL_SELECT_CHR: cmd = "SELECT"; break;
            case ACL_INSERT_CHR: cmd = "INSERT"; break;
            case ACL_UPDATE_CHR: cmd = "UPDATE"; break;
            case ACL_DELETE_CHR: cmd = "DELETE"; break;
            default: break;
        }
        appendStringInfo(&buf, "CREATE POLICY %s ON %s AS %s FOR %s TO ", quote_identifier(NameStr(p->polname)), shard,
                         p->polpermissive ? "PERMISSIVE" : "RESTRICTIVE", cmd);
        bool isnull;
        Datum roles = heap_getattr(tup, Anum_pg_policy_polroles, RelationGetDescr(pol), &isnull);
        Datum *elems;
        int nroles = 0;
        if (!isnull)
            deconstruct_array(DatumGetArrayTypeP(roles), OIDOID, sizeof(Oid), true, TYPALIGN_INT, &elems, NULL, &nroles);
        if (nroles == 0) appendStringInfoString(&buf, "PUBLIC");
        for (int i = 0; i < nroles; i++) {
            Oid role = DatumGetObjectId(elems[i]);
            if (i) appendStringInfoString(&buf, ", ");
            appendStringInfoString(&buf, role == ACL_ID_PUBLIC ? "PUBLIC"
                                                                : quote_identifier(GetUserNameFromId(role, false)));
        }
        Datum qual = heap_getattr(tup, Anum_pg_policy_polqual, RelationGetDescr(pol), &isnull);
        if (!isnull) {
            Node *e = static_cast<Node *>(stringToNode(TextDatumGetCString(qual)));
            ensure_policy_portable(e, NameStr(p->polname), relid);
            appendStringInfo(&buf, " USING (%s)", deparse_expression(e, dpcontext, false, false));
        }
        Datum check = heap_getattr(tup, Anum_pg_policy_polwithcheck, RelationGetDescr(pol), &isnull);
        if (!isnull) {
            Node *e = static_cast<Node *>(stringToNode(TextDatumGetCString(check)));
            ensure_policy_portable(e, NameStr(p->polname), relid);
            appendStringInfo(&buf, " WITH CHECK (%s)", deparse_expression(e, dpcontext, false, false));
        }
        out = lappend(out, buf.data);
    }
    systable_endscan(scan);
    table_close(pol, AccessShareLock);
    return out;
}

void sync_shards(Oid relid, const std::vector<std::string> &names_before) {
    metadata::invalidate();
    const metadata::DistTable &t = metadata::get(relid);
    std::vector<std::string> drop = names_before;
    for (const std::string &n : policy_names(relid)) drop.push_back(n);
    std::map<int, exec::Statements> by_node;
    for (const metadata::ShardInfo &s : t.shards) {
        exec::Statements st = shard_policy_sql(relid, s.name, drop);
        by_node[s.nodeid].insert(by_node[s.nodeid].end(), st.begin(), st.end());
    }
    exec::execute_per_node(by_node, true);
}

Oid distributed_relid(RangeVar *rv) {
    if (!rv) return InvalidOid;
    Oid relid = pg::call([&] { return RangeVarGetRelid(rv, NoLock, true); });
    return OidIsValid(relid) && metadata::lookup(relid) ? relid : InvalidOid;
}

}  // namespace

std::vector<std::string> policy_names(Oid relid) {
    std::vector<std::string> out;
    List *names = pg::call([&] {
        List *l = NIL;
        Relation pol = table_open(PolicyRelationId, AccessShareLock);
        ScanKeyData key;
        ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
        SysScanDesc scan = systable_beginscan(pol, PolicyPolrelidPolnameIndexId, true, NULL, 1, &key);
        HeapTuple tup;
        while ((tup = systable_getnext(scan)) != NULL)
            l = lappend(l, pstrdup(NameStr(((Form_pg_policy)GETSTRUCT(tup))->polname)));
        systable_endscan(scan);
        table_close(pol, AccessShareLock);
        return l;
    });
    ListCell *lc;
    foreach (lc, names) out.emplace_back(static_cast<char *>(lfirst(lc)));
    return out;
}

std::vector<std::string> shard_policy_sql(Oid relid, const std::string &shard_name,
                                          const std::vector<std::string> &drop_first) {
    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
    bool enabled = false, forced = false;
    pg::call([&] {
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", relid);
        enabled = ((Form_pg_class)GETSTRUCT(tup))->relrowsecurity;
        forced = ((Form_pg_class)GETSTRUCT(tup))->relforcerowsecurity;
        ReleaseSysCache(tup);
    });
    std::vector<std::string> sql;
    for (const std::string &n : drop_first)
        sql.push_back("DROP POLICY IF EXISTS " + std::string(pg::call([&] { return quote_identifier(n.c_str()); })) +
                      " ON " + shard_name);
    const char *shard = shard_name.c_str();
    List *policies = pg::call([&] { return policy_statements_c(relid, shard); });
    ListCell *lc;
    foreach (lc, policies) sql.emplace_back(static_cast<char *>(lfirst(lc)));
    if (enabled || !drop_first.empty()) {
        sql.push_back("ALTER TABLE " + shard_name + (enabled ? " ENABLE" : " DISABLE") + " ROW LEVEL SECURITY");
        sql.push_back("ALTER TABLE " + shard_name + (forced ? " FORCE" : " NO FORCE") + " ROW LEVEL SECURITY");
    }
    return sql;
}

bool handle_policy_ddl(PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    Node *stmt = pstmt->utilityStmt;
    Oid relid = InvalidOid;
    switch (nodeTag(stmt)) {
        case T_CreatePolicyStmt:
            relid = distributed_relid(castNode(CreatePolicyStmt, stmt)->table);
            break;
        case T_AlterPolicyStmt:
            relid = distributed_relid(castNode(AlterPolicyStmt, stmt)->table);
            break;
        case T_RenameStmt: {
            RenameStmt *r = castNode(RenameStmt, stmt);
            if (r->renameType == OBJECT_POLICY) relid = distributed_relid(r->relation);
            break;
        }
        case T_DropStmt: {
            DropStmt *d = castNode(DropStmt, stmt);
            if (d->removeType != OBJECT_POLICY || list_length(d->objects) != 1) break;
            // DROP POLICY name ON table: the object is the table's name list plus the policy's.
            List *names = static_cast<List *>(linitial(d->objects));
            if (list_length(names) < 2) break;
            List *table = pg::call([&] { return list_truncate(list_copy(names), list_length(names) - 1); });
            relid = distributed_relid(pg::call([&] { return makeRangeVarFromNameList(table); }));
            break;
        }
        case T_AlterTableStmt: {
            AlterTableStmt *a = castNode(AlterTableStmt, stmt);
            if (a->objtype != OBJECT_TABLE || list_length(a->cmds) == 0) break;
            ListCell *lc;
            foreach (lc, a->cmds) {
                AlterTableType type = static_cast<AlterTableCmd *>(lfirst(lc))->subtype;
                if (type != AT_EnableRowSecurity && type != AT_DisableRowSecurity && type != AT_ForceRowSecurity &&
                    type != AT_NoForceRowSecurity)
                    return false;  // mixed with other subcommands: ddl_propagate decides
            }
            relid = distributed_relid(a->relation);
            break;
        }
        default:
            break;
    }
    if (!OidIsValid(relid)) return false;
    std::vector<std::string> before = policy_names(relid);
    run_standard(pstmt);
    pg::call([] { CommandCounterIncrement(); });
    sync_shards(relid, before);
    return true;
}

}  // namespace rollup::commands
