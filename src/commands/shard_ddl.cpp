#include <string>
#include <vector>

#include "commands/shard_ddl.hpp"
#include "deparser/deparse.hpp"
#include "metadata/metadata_cache.hpp"
#include "pg/pinned_settings.hpp"

namespace rollup::commands {

namespace {

bool refuses_pushdown(Oid funcid, void *) {
    return funcid >= FirstNormalObjectId || funcid == F_NEXTVAL;
}

// A default can live on the shards when it calls only built-in functions other than nextval
// (sequences stay on the coordinator, which evaluates defaults for every write anyway).
bool default_is_portable(Node *expr) {
    return !check_functions_in_node(expr, refuses_pushdown, nullptr) &&
           !contain_var_clause(expr);
}

struct IndexRow {
    Oid indexoid;
    Oid conoid;
    bool unique;
};

// PostgreSQL-style C (palloc'd result; may ereport): the pieces of an index definition, printed
// from the catalogs. Called under the node settings (search_path = pg_catalog).
char *index_body_c(Oid indexoid, bool *unique) {
    HeapTuple idxtup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
    if (!HeapTupleIsValid(idxtup)) elog(ERROR, "cache lookup failed for index %u", indexoid);
    Form_pg_index idx = (Form_pg_index)GETSTRUCT(idxtup);
    Oid heapoid = idx->indrelid;
    *unique = idx->indisunique;
    bool isnull;
    Datum d = SysCacheGetAttr(INDEXRELID, idxtup, Anum_pg_index_indclass, &isnull);
    oidvector *indclass = (oidvector *)DatumGetPointer(d);
    d = SysCacheGetAttr(INDEXRELID, idxtup, Anum_pg_index_indcollation, &isnull);
    oidvector *indcollation = (oidvector *)DatumGetPointer(d);
    d = SysCacheGetAttr(INDEXRELID, idxtup, Anum_pg_index_indoption, &isnull);
    int2vector *indoption = (int2vector *)DatumGetPointer(d);
    Relation indexrel = index_open(indexoid, AccessShareLock);
    List *exprs = RelationGetIndexExpressions(indexrel);  // a copy, made before the index is closed
    index_close(indexrel, AccessShareLock);
    ListCell *expr_cell = list_head(exprs);

    HeapTuple reltup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
    if (!HeapTupleIsValid(reltup)) elog(ERROR, "cache lookup failed for relation %u", indexoid);
    Oid amoid = ((Form_pg_class)GETSTRUCT(reltup))->relam;
    Datum reloptions = SysCacheGetAttr(RELOID, reltup, Anum_pg_class_reloptions, &isnull);
    bool has_reloptions = !isnull;
    IndexAmRoutine *am = GetIndexAmRoutineByAmId(amoid, false);

    List *dpcontext = deparse_context_for(get_rel_name(heapoid), heapoid);
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfo(&buf, "USING %s (", quote_identifier(get_am_name(amoid)));
    for (int k = 0; k < idx->indnatts; k++) {
        if (k == idx->indnkeyatts) appendStringInfoString(&buf, ") INCLUDE (");
        else if (k > 0) appendStringInfoString(&buf, ", ");
        AttrNumber attnum = idx->indkey.values[k];
        Oid keytype, keycoll;
        if (attnum != 0) {
            appendStringInfoString(&buf, quote_identifier(get_attname(heapoid, attnum, false)));
            int32 typmod;
            get_atttypetypmodcoll(heapoid, attnum, &keytype, &typmod, &keycoll);
        } else {
            if (!expr_cell) elog(ERROR, "too few entries in indexprs of index %u", indexoid);
            Node *e = static_cast<Node *>(lfirst(expr_cell));
            expr_cell = lnext(exprs, expr_cell);
            appendStringInfo(&buf, "(%s)", deparse_expression(e, dpcontext, false, false));
            keytype = exprType(e);
            keycoll = exprCollation(e);
        }
        if (k >= idx->indnkeyatts) continue;
        Oid coll = indcollation->values[k];
        if (OidIsValid(coll) && coll != keycoll) appendStringInfo(&buf, " COLLATE %s", generate_collation_name(coll));
        Oid opclass = indclass->values[k];
        if (opclass != GetDefaultOpClass(keytype, amoid)) {
            HeapTuple ht = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
            if (!HeapTupleIsValid(ht)) elog(ERROR, "cache lookup failed for opclass %u", opclass);
            Form_pg_opclass oc = (Form_pg_opclass)GETSTRUCT(ht);
            appendStringInfo(&buf, " %s",
                             quote_qualified_identifier(get_namespace_name(oc->opcnamespace), NameStr(oc->opcname)));
            ReleaseSysCache(ht);
        }
        if (am->amcanorder) {
            int16 opt = indoption->values[k];
            if (opt & INDOPTION_DESC) {
                appendStringInfoString(&buf, " DESC");
                if (!(opt & INDOPTION_NULLS_FIRST)) appendStringInfoString(&buf, " NULLS LAST");
            } else if (opt & INDOPTION_NULLS_FIRST) {
                appendStringInfoString(&buf, " NULLS FIRST");
            }
        }
    }
    appendStringInfoChar(&buf, ')');
    if (idx->indnullsnotdistinct) appendStringInfoString(&buf, " NULLS NOT DISTINCT");
    if (has_reloptions) {
        // Each entry is "name=value" as stored by PostgreSQL's own option parser.
        ArrayType *arr = DatumGetArrayTypeP(reloptions);
        Datum *opts;
        int nopts;
        deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &opts, NULL, &nopts);
        appendStringInfoString(&buf, " WITH (");
        for (int i = 0; i < nopts; i++) {
            char *opt = TextDatumGetCString(opts[i]);
            char *eq = strchr(opt, '=');
            if (!eq) elog(ERROR, "invalid option \"%s\" of index %u", opt, indexoid);
            *eq = '\0';
            appendStringInfo(&buf, "%s%s = %s", i ? ", " : "", quote_identifier(opt), quote_literal_cstr(eq + 1));
        }
        appendStringInfoChar(&buf, ')');
    }
    d = SysCacheGetAttr(INDEXRELID, idxtup, Anum_pg_index_indpred, &isnull);
    if (!isnull) {
        Node *pred = static_cast<Node *>(stringToNode(TextDatumGetCString(d)));
        appendStringInfo(&buf, " WHERE (%s)", deparse_expression(pred, dpcontext, false, false));
    }
    ReleaseSysCache(reltup);
    ReleaseSysCache(idxtup);
    return buf.data;
}

}  // namespace

IndexDefinition index_definition(Oid indexoid) {
    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
    IndexDefinition out;
    bool unique = false;
    bool *up = &unique;
    out.body = pg::call([&] { return std::string(index_body_c(indexoid, up)); });
    out.unique = unique;
    return out;
}

ShellDefinition describe_shell(Oid relid, AttrNumber dist_attnum) {
    ShellDefinition def;
    // Everything below is printed for the nodes: names schema-qualified (deparser settings).
    pg::PinnedSettings settings ROLLUP_NODE_SQL_SETTINGS;
    Relation rel = pg::call([&] { return table_open(relid, AccessShareLock); });
    struct Close {
        Relation r;
        ~Close() { table_close(r, AccessShareLock); }
    } close{rel};
    def.relname = RelationGetRelationName(rel);
    def.schema = pg::call([&] { return get_namespace_name(RelationGetNamespace(rel)); });
    def.unlogged = rel->rd_rel->relpersistence == RELPERSISTENCE_UNLOGGED;
    TupleDesc desc = RelationGetDescr(rel);
    List *dpcontext = pg::call([&] { return deparse_context_for(def.relname.c_str(), relid); });

    std::string cols;
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped) continue;
        if (att->attgenerated)
            throw PgError(sqlstate::feature_not_supported,
                          std::string("cannot distribute a table with generated column \"") + NameStr(att->attname) + "\"",
                          "", "Compute the value in the INSERT instead.");
        if (!cols.empty()) cols += ", ";
        cols += pg::call([&] { return quote_identifier(NameStr(att->attname)); });
        cols += " ";
        Oid typid = att->atttypid;
        int32 typmod = att->atttypmod;
        cols += pg::call([&] { return format_type_with_typemod(typid, typmod); });
        Oid coll = att->attcollation;
        if (OidIsValid(coll)) {
            Oid typcoll = pg::call([&] { return get_typcollation(typid); });
            if (coll != typcoll) {
                cols += " COLLATE ";
                cols += pg::call([&] { return generate_collation_name(coll); });
            }
        }
        if (att->atthasdef) {
            AttrNumber attnum = att->attnum;
            Node *expr = pg::call([&] { return build_column_default(rel, attnum); });
            if (expr && default_is_portable(expr)) {
                cols += " DEFAULT ";
                cols += pg::call([&] { return deparse_expression(expr, dpcontext, false, false); });
            }
        }
        if (att->attnotnull) cols += " NOT NULL";
    }

    // User triggers would never fire: rows go to the shards, never through this table.
    if (rel->trigdesc) {
        for (int i = 0; i < rel->trigdesc->numtriggers; i++) {
            const Trigger &trig = rel->trigdesc->triggers[i];
            if (trig.tgisinternal) continue;
            throw PgError(sqlstate::feature_not_supported,
                          "cannot distribute table \"" + def.relname + "\" with trigger \"" + trig.tgname + "\"",
                          "Rows of a distributed table are stored in its shards: the trigger would never fire.",
                          "Drop the trigger first.");
        }
    }

    // Constraints.
    std::vector<Oid> checks, keyed_cons;
    pg::call([&] {
        Relation conrel = table_open(ConstraintRelationId, AccessShareLock);
        ScanKeyData key;
        ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
        SysScanDesc scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true, NULL, 1, &key);
        HeapTuple tup;
        while ((tup = systable_getnext(scan)) != NULL) {
            Form_pg_constraint con = (Form_pg_constraint)GETSTRUCT(tup);
            if (con->contype == CONSTRAINT_CHECK) checks.push_back(con->oid);
            else if (con->contype == CONSTRAINT_PRIMARY || con->contype == CONSTRAINT_UNIQUE ||
                     con->contype == CONSTRAINT_EXCLUSION) keyed_cons.push_back(con->oid);
            else if (con->contype == CONSTRAINT_FOREIGN) {
                ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                                errmsg("cannot distribute a table with foreign key constraint \"%s\"",
                                       NameStr(con->conname)),
                                errhint("Drop the foreign key first; distributed tables do not support them yet.")));
            }
        }
        systable_endscan(scan);
        table_close(conrel, AccessShareLock);
    });
    // Tables referenced by a foreign key elsewhere cannot be moved either.
    bool referenced = pg::call([&] {
        Relation conrel = table_open(ConstraintRelationId, AccessShareLock);
        SysScanDesc scan = systable_beginscan(conrel, InvalidOid, false, NULL, 0, NULL);
        HeapTuple tup;
        bool found = false;
        while ((tup = systable_getnext(scan)) != NULL) {
            Form_pg_constraint con = (Form_pg_constraint)GETSTRUCT(tup);
            if (con->contype == CONSTRAINT_FOREIGN && con->confrelid == relid) found = true;
        }
        systable_endscan(scan);
        table_close(conrel, AccessShareLock);
        return found;
    });
    if (referenced)
        throw PgError(sqlstate::feature_not_supported,
                      "cannot distribute table \"" + def.relname + "\": a foreign key references it",
                      "", "Drop the referencing foreign key first.");
    for (Oid con : checks) {
        char *name = pg::call([&] { return get_constraint_name(con); });
        char *body = pg::call([&] {
            return TextDatumGetCString(DirectFunctionCall1(pg_get_constraintdef, ObjectIdGetDatum(con)));
        });
        cols += ", CONSTRAINT ";
        cols += pg::call([&] { return quote_identifier(name); });
        cols += " ";
        cols += body;
    }
    def.columns = cols;

    // Unique/primary/exclusion constraints must include the distribution column.
    auto ensure_includes_dist = [&](Oid indexoid, const std::string &what) {
        bool found = pg::call([&] {
            HeapTuple t = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
            if (!HeapTupleIsValid(t)) elog(ERROR, "cache lookup failed for index %u", indexoid);
            Form_pg_index idx = (Form_pg_index)GETSTRUCT(t);
            bool f = false;
            for (int k = 0; k < idx->indnkeyatts; k++)
                if (idx->indkey.values[k] == dist_attnum) f = true;
            ReleaseSysCache(t);
            return f;
        });
        if (!found)
            throw PgError(sqlstate::invalid_table_definition,
                          "cannot distribute table \"" + def.relname + "\": " + what +
                              " does not include the distribution column",
                          "Uniqueness can only be enforced shard by shard.",
                          "Add the distribution column to the constraint or index.");
    };
    for (Oid con : keyed_cons) {
        ShellDefinition::Keyed k;
        k.name = pg::call([&] { return get_constraint_name(con); });
        k.body = pg::call([&] {
            return TextDatumGetCString(DirectFunctionCall1(pg_get_constraintdef, ObjectIdGetDatum(con)));
        });
        k.is_constraint = true;
        Oid indexoid = pg::call([&] { return get_constraint_index(con); });
        if (OidIsValid(indexoid)) ensure_includes_dist(indexoid, "constraint \"" + k.name + "\"");
        def.keyed.push_back(k);
    }
    // Plain indexes.
    List *indexes = pg::call([&] { return RelationGetIndexList(rel); });
    ListCell *lc;
    foreach (lc, indexes) {
        Oid indexoid = lfirst_oid(lc);
        Oid con = pg::call([&] { return get_index_constraint(indexoid); });
        if (OidIsValid(con)) continue;
        ShellDefinition::Keyed k;
        k.name = pg::call([&] { return get_rel_name(indexoid); });
        IndexDefinition index = index_definition(indexoid);
        k.body = index.body;
        k.unique_index = index.unique;
        if (k.unique_index) ensure_includes_dist(indexoid, "unique index \"" + k.name + "\"");
        def.keyed.push_back(k);
    }
    return def;
}

std::vector<std::string> shard_create_sql(const ShellDefinition &def, int64_t shardid) {
    std::string shard = metadata::shard_relname(def.relname, shardid);
    std::string qualified = pg::call([&] { return quote_qualified_identifier(def.schema.c_str(), shard.c_str()); });
    std::vector<std::string> sql;
    sql.push_back(std::string("CREATE ") + (def.unlogged ? "UNLOGGED " : "") + "TABLE " + qualified + " (" +
                  def.columns + ")");
    for (const auto &k : def.keyed) {
        std::string name = metadata::shard_relname(k.name, shardid);
        std::string qname = pg::call([&] { return quote_identifier(name.c_str()); });
        if (k.is_constraint)
            sql.push_back("ALTER TABLE " + qualified + " ADD CONSTRAINT " + qname + " " + k.body);
        else
            sql.push_back(std::string("CREATE ") + (k.unique_index ? "UNIQUE " : "") + "INDEX " + qname + " ON " +
                          qualified + " " + k.body);
    }
    return sql;
}

std::string schema_create_sql(const ShellDefinition &def) {
    // CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the database even when the schema
    // exists: only create it when it is missing, so that table owners without that privilege can
    // distribute into a schema that is already there. The block's body is itself a quoted literal
    // (no dollar quote a schema name could close), and to_regnamespace gets the quoted identifier
    // (it parses its argument as a name: "a b" must reach it with its quotes).
    std::string body = pg::call([&] {
        const char *ident = quote_identifier(def.schema.c_str());
        return std::string("BEGIN IF pg_catalog.to_regnamespace(") + quote_literal_cstr(ident) +
               ") IS NULL THEN CREATE SCHEMA " + ident + "; END IF; END";
    });
    return "DO " + std::string(pg::call([&] { return quote_literal_cstr(body.c_str()); }));
}

}  // namespace rollup::commands
