// DDL propagation to shards (see ddl_propagate.hpp). The shell table is changed first by
// PostgreSQL itself (its checks and messages), then one statement per shard changes every shard,
// a node's statements in one round trip, inside the node's remote transaction: a failure anywhere
// rolls back all.
// Column definitions and index definitions are read back from the catalog after the change, so
// the shards get exactly what the shell got (types with modifiers, collations, index bodies).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/rollup_plan.hpp"

#include "commands/ddl_propagate.hpp"
#include "commands/policy_propagate.hpp"
#include "commands/shard_ddl.hpp"
#include "pg/pinned_settings.hpp"
#include "rollup/invalidations.hpp"
#include "executor/remote_exec.hpp"
#include "metadata/metadata_cache.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::commands {

namespace {

std::string quote_ident(const std::string &s) {
    return pg::call([&] { return std::string(quote_identifier(s.c_str())); });
}

[[noreturn]] void unsupported(const metadata::DistTable &t, const std::string &what, const std::string &hint = {}) {
    throw PgError(sqlstate::feature_not_supported,
                  what + " is not supported on distributed table \"" + t.relname + "\"", "", hint);
}

const char *alter_name(AlterTableType type) {
    switch (type) {
        case AT_AddConstraint: return "ALTER TABLE ... ADD CONSTRAINT";
        case AT_DropConstraint: return "ALTER TABLE ... DROP CONSTRAINT";
        case AT_AlterColumnType: return "ALTER TABLE ... ALTER COLUMN ... TYPE";
        case AT_SetStatistics: return "ALTER TABLE ... SET STATISTICS";
        case AT_SetStorage: return "ALTER TABLE ... SET STORAGE";
        case AT_ChangeOwner: return "ALTER TABLE ... OWNER TO";
        case AT_SetRelOptions: return "ALTER TABLE ... SET (...)";
        case AT_ResetRelOptions: return "ALTER TABLE ... RESET (...)";
        case AT_EnableTrig:
        case AT_DisableTrig:
        case AT_EnableTrigAll:
        case AT_DisableTrigAll:
        case AT_EnableTrigUser:
        case AT_DisableTrigUser: return "ALTER TABLE ... ENABLE/DISABLE TRIGGER";
        case AT_AddInherit:
        case AT_DropInherit: return "ALTER TABLE ... INHERIT";
        case AT_AttachPartition:
        case AT_DetachPartition: return "ALTER TABLE ... ATTACH/DETACH PARTITION";
        case AT_AddIdentity:
        case AT_SetIdentity:
        case AT_DropIdentity: return "ALTER TABLE ... IDENTITY";
        case AT_SetLogged:
        case AT_SetUnLogged: return "ALTER TABLE ... SET LOGGED/UNLOGGED";
        case AT_EnableRowSecurity:
        case AT_DisableRowSecurity: return "ALTER TABLE ... ROW LEVEL SECURITY";
        case AT_SetTableSpace: return "ALTER TABLE ... SET TABLESPACE";
        case AT_ClusterOn: return "ALTER TABLE ... CLUSTER ON";
        case AT_ReplicaIdentity: return "ALTER TABLE ... REPLICA IDENTITY";
        case AT_SetCompression: return "ALTER TABLE ... SET COMPRESSION";
        default: return "this ALTER TABLE subcommand";
    }
}

// Runs one statement per shard of a table, all of a node's in one round trip.
void run_on_shards(const metadata::DistTable &t, const std::function<std::string(const metadata::ShardInfo &)> &sql_for) {
    std::map<int, exec::Statements> by_node;
    for (const metadata::ShardInfo &s : t.shards) by_node[s.nodeid].push_back(sql_for(s));
    exec::execute_per_node(by_node, true);
}

bool default_is_portable_expr(Node *expr);

bool refuses_pushdown(Oid funcid, void *) { return funcid >= FirstNormalObjectId || funcid == F_NEXTVAL; }

bool default_is_portable_expr(Node *expr) {
    return !check_functions_in_node(expr, refuses_pushdown, nullptr) && !contain_var_clause(expr);
}

// "name type [COLLATE c] [DEFAULT e] [NOT NULL]" of a column of the shell, as it is now.
std::string column_definition(Oid relid, const std::string &column, bool *has_unportable_default) {
    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;  // printed for the nodes: names qualified
    AttrNumber attnum = pg::call([&] { return get_attnum(relid, column.c_str()); });
    if (attnum == InvalidAttrNumber) throw PgError(sqlstate::undefined_column, "column \"" + column + "\" does not exist");
    Relation rel = pg::call([&] { return table_open(relid, NoLock); });
    struct Close {
        Relation r;
        ~Close() { table_close(r, NoLock); }
    } close{rel};
    Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
    std::string def = quote_ident(column) + " ";
    Oid typid = att->atttypid;
    int32 typmod = att->atttypmod;
    def += pg::call([&] { return std::string(format_type_with_typemod(typid, typmod)); });
    Oid coll = att->attcollation;
    if (OidIsValid(coll)) {
        Oid typcoll = pg::call([&] { return get_typcollation(typid); });
        if (coll != typcoll) def += " COLLATE " + std::string(pg::call([&] { return generate_collation_name(coll); }));
    }
    *has_unportable_default = false;
    if (att->atthasdef) {
        Node *expr = pg::call([&] { return build_column_default(rel, attnum); });
        if (expr) {
            bool portable = pg::call([&] { return default_is_portable_expr(expr); });
            if (portable) {
                std::string relname = RelationGetRelationName(rel);
                def += " DEFAULT " + std::string(pg::call([&] {
                           List *ctx = deparse_context_for(relname.c_str(), relid);
                           return deparse_expression(expr, ctx, false, false);
                       }));
            } else {
                *has_unportable_default = true;
            }
        }
    }
    if (att->attnotnull) def += " NOT NULL";
    return def;
}

std::vector<Oid> index_list(Oid relid) {
    std::vector<Oid> out;
    List *l = pg::call([&] {
        Relation rel = table_open(relid, NoLock);
        List *r = RelationGetIndexList(rel);
        table_close(rel, NoLock);
        return r;
    });
    ListCell *lc;
    foreach (lc, l) out.push_back(lfirst_oid(lc));
    return out;
}

std::string shard_index_name(const metadata::DistTable &t, const std::string &index, const metadata::ShardInfo &s) {
    std::string name = metadata::shard_relname(index, s.shardid);
    return pg::call([&] { return std::string(quote_qualified_identifier(t.schema.c_str(), name.c_str())); });
}

bool handle_truncate(TruncateStmt *stmt, PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    std::vector<Oid> dist;
    ListCell *lc;
    foreach (lc, stmt->relations) {
        RangeVar *rv = static_cast<RangeVar *>(lfirst(lc));
        Oid relid = pg::call([&] { return RangeVarGetRelid(rv, NoLock, true); });
        if (OidIsValid(relid) && metadata::lookup(relid)) dist.push_back(relid);
    }
    if (dist.empty()) return false;
    run_standard(pstmt);
    std::map<int, exec::Statements> by_node;
    for (Oid relid : dist) {
        const metadata::DistTable &t = metadata::get(relid);
        for (const metadata::ShardInfo &s : t.shards) by_node[s.nodeid].push_back("TRUNCATE TABLE " + s.name);
    }
    exec::execute_per_node(by_node, true);
    return true;
}

bool handle_alter_table(AlterTableStmt *stmt, PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    if (stmt->objtype != OBJECT_TABLE) return false;
    Oid relid = pg::call([&] { return RangeVarGetRelid(stmt->relation, NoLock, stmt->missing_ok); });
    if (!OidIsValid(relid)) return false;
    const metadata::DistTable *tp = metadata::lookup(relid);
    if (!tp) return false;
    const metadata::DistTable &t = *tp;
    struct Step {
        AlterTableType type;
        std::string column;
        std::string sql;  // for steps fixed before the change
    };
    std::vector<Step> steps;
    ListCell *lc;
    foreach (lc, stmt->cmds) {
        AlterTableCmd *cmd = static_cast<AlterTableCmd *>(lfirst(lc));
        std::string name = cmd->name ? cmd->name : "";
        switch (cmd->subtype) {
            case AT_AddColumn: {
                ColumnDef *def = reinterpret_cast<ColumnDef *>(cmd->def);
                ListCell *cl;
                foreach (cl, def->constraints) {
                    Constraint *c = static_cast<Constraint *>(lfirst(cl));
                    if (c->contype != CONSTR_NULL && c->contype != CONSTR_NOTNULL && c->contype != CONSTR_DEFAULT)
                        unsupported(t, "ADD COLUMN with a constraint other than NOT NULL or DEFAULT",
                                    "Add the column first; constraints cannot be added to distributed tables yet.");
                }
                if (def->identity || def->generated)
                    unsupported(t, "ADD COLUMN with an identity or generated column");
                steps.push_back({cmd->subtype, def->colname, ""});
                break;
            }
            case AT_DropColumn: {
                if (name == t.dist_column)
                    throw PgError(sqlstate::feature_not_supported,
                                  "cannot drop distribution column \"" + name + "\" of table \"" + t.relname + "\"");
                std::string sql = "DROP COLUMN ";
                if (cmd->missing_ok) sql += "IF EXISTS ";
                sql += quote_ident(name);
                if (cmd->behavior == DROP_CASCADE) sql += " CASCADE";
                steps.push_back({cmd->subtype, name, sql});
                break;
            }
            case AT_SetNotNull:
                steps.push_back({cmd->subtype, name, "ALTER COLUMN " + quote_ident(name) + " SET NOT NULL"});
                break;
            case AT_DropNotNull:
                steps.push_back({cmd->subtype, name, "ALTER COLUMN " + quote_ident(name) + " DROP NOT NULL"});
                break;
            case AT_ColumnDefault:
                // Defaults are evaluated on the coordinator for every write: nothing to send.
                break;
            default:
                unsupported(t, alter_name(cmd->subtype));
        }
    }
    run_standard(pstmt);
    metadata::invalidate();
    const metadata::DistTable &now = metadata::get(relid);
    std::vector<std::string> pieces;
    for (Step &s : steps) {
        if (s.type == AT_AddColumn) {
            bool unportable = false;
            std::string def = column_definition(relid, s.column, &unportable);
            if (unportable)
                unsupported(now, "ADD COLUMN with a default that calls a sequence or a user-defined function",
                            "Add the column without a default, then SET DEFAULT: new rows get it from the coordinator.");
            pieces.push_back("ADD COLUMN " + def);
        } else {
            pieces.push_back(s.sql);
        }
    }
    if (pieces.empty()) return true;
    std::string body;
    for (size_t i = 0; i < pieces.size(); i++) body += (i ? ", " : "") + pieces[i];
    run_on_shards(now, [&](const metadata::ShardInfo &s) { return "ALTER TABLE " + s.name + " " + body; });
    return true;
}

// ALTER SCHEMA ... RENAME of a schema that holds distributed tables: the schema is renamed on every
// worker that holds their shards too (on the coordinator, PostgreSQL renames it once for the shell
// tables and any shards there), in the same distributed transaction.
bool handle_rename_schema(RenameStmt *stmt, PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    const std::string from = stmt->subname, to = stmt->newname;
    std::set<int> nodes;
    for (const metadata::DistTable *t : metadata::all_tables())
        if (t->schema == from)
            for (const metadata::ShardInfo &s : t->shards)
                if (!metadata::node(s.nodeid).is_coordinator) nodes.insert(s.nodeid);
    bool holds_tables = false;
    for (const metadata::DistTable *t : metadata::all_tables()) holds_tables = holds_tables || t->schema == from;
    if (!holds_tables) return false;
    run_standard(pstmt);
    metadata::invalidate();
    std::map<int, exec::Statements> by_node;
    for (int n : nodes) by_node[n].push_back("ALTER SCHEMA " + quote_ident(from) + " RENAME TO " + quote_ident(to));
    exec::execute_per_node(by_node, true);
    return true;
}

bool handle_rename(RenameStmt *stmt, PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    if (stmt->renameType == OBJECT_SCHEMA) return handle_rename_schema(stmt, pstmt, run_standard);
    if (!stmt->relation) return false;
    Oid relid = pg::call([&] { return RangeVarGetRelid(stmt->relation, NoLock, stmt->missing_ok); });
    if (!OidIsValid(relid)) return false;
    if (stmt->renameType == OBJECT_INDEX) {
        Oid table = pg::call([&] { return IndexGetRelation(relid, true); });
        if (OidIsValid(table) && metadata::lookup(table))
            unsupported(*metadata::lookup(table), "renaming an index");
        return false;
    }
    const metadata::DistTable *t = metadata::lookup(relid);
    if (!t) {
        // A local table a rollup writes (a local target): its runs insert by column name. Renaming
        // a column of an inheritance parent renames it in the children (and partitions) too.
        if (stmt->renameType == OBJECT_COLUMN) {
            std::string rollup;
            List *family = pg::call([&] { return find_all_inheritors(relid, NoLock, NULL); });
            ListCell *lc;
            foreach (lc, family) {
                if (rollup.empty()) rollup = engine::rollup_using(lfirst_oid(lc));
            }
            if (!rollup.empty())
                throw PgError(sqlstate::feature_not_supported,
                              "cannot rename a column of \"" + std::string(stmt->relation->relname) +
                                  "\": rollup \"" + rollup + "\" writes it",
                              "", "Drop the rollup first (rollup.drop_rollup), rename, create it again.");
        }
        return false;
    }
    if (stmt->renameType == OBJECT_COLUMN) {
        std::string from = stmt->subname, to = stmt->newname;
        if (from == t->dist_column) unsupported(*t, "renaming the distribution column");
        const std::string rollup = engine::rollup_using(relid);
        if (!rollup.empty())
            unsupported(*t, "renaming a column of a table that rollup \"" + rollup + "\" reads or writes",
                        "Drop the rollup first (rollup.drop_rollup), rename, create it again.");
        run_standard(pstmt);
        metadata::invalidate();
        const metadata::DistTable &now = metadata::get(relid);
        std::string body = "RENAME COLUMN " + quote_ident(from) + " TO " + quote_ident(to);
        run_on_shards(now, [&](const metadata::ShardInfo &s) { return "ALTER TABLE " + s.name + " " + body; });
        return true;
    }
    if (stmt->renameType == OBJECT_TABLE) unsupported(*t, "renaming a table", "Undistribute it, rename it, distribute it again.");
    unsupported(*t, "this RENAME");
}

bool handle_create_index(IndexStmt *stmt, PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    Oid relid = pg::call([&] { return RangeVarGetRelid(stmt->relation, NoLock, true); });
    if (!OidIsValid(relid)) return false;
    const metadata::DistTable *tp = metadata::lookup(relid);
    if (!tp) return false;
    if (stmt->concurrent) unsupported(*tp, "CREATE INDEX CONCURRENTLY", "Use CREATE INDEX (it runs on all shards in parallel).");
    std::vector<Oid> before = index_list(relid);
    run_standard(pstmt);
    std::vector<Oid> after = index_list(relid);
    metadata::invalidate();
    const metadata::DistTable &t = metadata::get(relid);
    for (Oid idx : after) {
        if (std::find(before.begin(), before.end(), idx) != before.end()) continue;
        std::string name = pg::call([&] { return std::string(get_rel_name(idx)); });
        const IndexDefinition index = index_definition(idx);
        const bool unique = index.unique;
        if (unique) {
            bool has_dist = pg::call([&] {
                HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(idx));
                if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for index %u", idx);
                Form_pg_index form = (Form_pg_index)GETSTRUCT(tup);
                bool f = false;
                for (int k = 0; k < form->indnkeyatts; k++)
                    if (form->indkey.values[k] == t.dist_attnum) f = true;
                ReleaseSysCache(tup);
                return f;
            });
            if (!has_dist)
                throw PgError(sqlstate::invalid_table_definition,
                              "unique index \"" + name + "\" on distributed table \"" + t.relname +
                                  "\" must include the distribution column \"" + t.dist_column + "\"",
                              "Uniqueness can only be enforced shard by shard.");
        }
        const std::string &body = index.body;
        run_on_shards(t, [&](const metadata::ShardInfo &s) {
            std::string shard_idx = metadata::shard_relname(name, s.shardid);
            return std::string("CREATE ") + (unique ? "UNIQUE " : "") + "INDEX " + quote_ident(shard_idx) + " ON " +
                   s.name + " " + body;
        });
    }
    return true;
}

bool handle_drop(DropStmt *stmt, PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    if (stmt->removeType != OBJECT_INDEX) return false;
    struct Dropped {
        Oid table;
        std::string index;
    };
    std::vector<Dropped> dropped;
    ListCell *lc;
    foreach (lc, stmt->objects) {
        List *names = static_cast<List *>(lfirst(lc));
        Oid idx = pg::call([&] { return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true); });
        if (!OidIsValid(idx)) continue;
        Oid table = pg::call([&] { return IndexGetRelation(idx, true); });
        if (!OidIsValid(table) || !metadata::lookup(table)) continue;
        if (stmt->concurrent) unsupported(*metadata::lookup(table), "DROP INDEX CONCURRENTLY");
        std::string name = pg::call([&] { return std::string(get_rel_name(idx)); });
        dropped.push_back({table, name});
    }
    if (dropped.empty()) return false;
    run_standard(pstmt);
    std::map<int, exec::Statements> by_node;
    for (const Dropped &d : dropped) {
        const metadata::DistTable &t = metadata::get(d.table);
        for (const metadata::ShardInfo &s : t.shards)
            by_node[s.nodeid].push_back("DROP INDEX IF EXISTS " + shard_index_name(t, d.index, s));
    }
    exec::execute_per_node(by_node, true);
    return true;
}

// ANALYZE of distributed tables: the shell (empty) as PostgreSQL does it, then every shard on its
// node, so that shard plans have statistics after a bulk load (autovacuum would come later).
// VACUUM is left to each node's autovacuum: it cannot run inside the remote transaction a shard
// statement is part of.
bool handle_analyze(VacuumStmt *stmt, PlannedStmt *pstmt, const std::function<void(PlannedStmt *)> &run_standard) {
    if (stmt->is_vacuumcmd) return false;
    struct Target {
        Oid relid;
        std::string columns;  // " (a, b)" or empty
    };
    std::vector<Target> dist;
    // The options a shard's ANALYZE honours as the shell's does.
    std::string options;
    ListCell *lc;
    foreach (lc, stmt->options) {
        DefElem *opt = lfirst_node(DefElem, lc);
        const bool on = pg::call([&] { return defGetBoolean(opt); });
        if (!on) continue;
        if (strcmp(opt->defname, "verbose") == 0) options += std::string(options.empty() ? "" : ", ") + "VERBOSE";
        if (strcmp(opt->defname, "skip_locked") == 0) options += std::string(options.empty() ? "" : ", ") + "SKIP_LOCKED";
    }
    if (!options.empty()) options = "(" + options + ") ";
    const Oid me = GetUserId();
    foreach (lc, stmt->rels) {
        VacuumRelation *vr = lfirst_node(VacuumRelation, lc);
        if (!vr->relation) continue;
        Oid relid = pg::call([&] { return RangeVarGetRelid(vr->relation, NoLock, true); });
        if (!OidIsValid(relid) || !metadata::lookup(relid)) continue;
        // Whom PostgreSQL lets analyze the table (it warns and skips the others): the table's owner
        // or the database's; nobody else's statement goes to the shards.
        const bool may = pg::call([&] {
            return pg_class_ownercheck(relid, me) || pg_database_ownercheck(MyDatabaseId, me);
        });
        if (!may) continue;
        std::string cols;
        ListCell *cc;
        foreach (cc, vr->va_cols) {
            const char *name = strVal(lfirst(cc));
            cols += (cols.empty() ? " (" : ", ") + std::string(pg::call([&] { return quote_identifier(name); }));
        }
        if (!cols.empty()) cols += ")";
        dist.push_back({relid, cols});
    }
    if (dist.empty()) return false;
    run_standard(pstmt);
    std::map<int, exec::Statements> by_node;
    for (const Target &d : dist) {
        const metadata::DistTable &t = metadata::get(d.relid);
        for (const metadata::ShardInfo &s : t.shards)
            by_node[s.nodeid].push_back("ANALYZE " + options + s.name + d.columns);
    }
    // Not a write: statistics need no two-phase commit across nodes (and ANALYZE is allowed in a
    // read-only transaction, where recording a distributed commit is not).
    exec::execute_per_node(by_node, false);
    return true;
}

bool handle_set_schema(AlterObjectSchemaStmt *stmt) {
    if (stmt->objectType != OBJECT_TABLE || !stmt->relation) return false;
    Oid relid = pg::call([&] { return RangeVarGetRelid(stmt->relation, NoLock, true); });
    if (OidIsValid(relid) && metadata::lookup(relid)) unsupported(*metadata::lookup(relid), "ALTER TABLE ... SET SCHEMA");
    return false;
}

}  // namespace

bool ddl_distributed(PlannedStmt *pstmt, const char *query_string,
                     const std::function<void(PlannedStmt *)> &run_standard) {
    Node *stmt = pstmt->utilityStmt;
    if (handle_policy_ddl(pstmt, run_standard)) return true;
    switch (nodeTag(stmt)) {
        case T_TruncateStmt: return handle_truncate(reinterpret_cast<TruncateStmt *>(stmt), pstmt, run_standard);
        case T_AlterTableStmt: return handle_alter_table(reinterpret_cast<AlterTableStmt *>(stmt), pstmt, run_standard);
        case T_RenameStmt: return handle_rename(reinterpret_cast<RenameStmt *>(stmt), pstmt, run_standard);
        case T_IndexStmt: return handle_create_index(reinterpret_cast<IndexStmt *>(stmt), pstmt, run_standard);
        case T_DropStmt: return handle_drop(reinterpret_cast<DropStmt *>(stmt), pstmt, run_standard);
        case T_AlterObjectSchemaStmt: return handle_set_schema(reinterpret_cast<AlterObjectSchemaStmt *>(stmt));
        case T_VacuumStmt: return handle_analyze(reinterpret_cast<VacuumStmt *>(stmt), pstmt, run_standard);
        default: return false;
    }
}

}  // namespace rollup::commands
