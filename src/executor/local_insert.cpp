// Direct inserts into the coordinator's own shards: see local_insert.hpp for when and why.
// The functions in the anonymous namespace are PostgreSQL-style C: PODs and palloc'd pointers only,
// each called under one pg::call from LocalShardInserter.
#include <string>

#include "executor/local_insert.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::exec {

namespace {

// A shard's buffer is stored when it holds this many rows or bytes (COPY's own limits).
constexpr int kMaxBufferedRows = 128;
constexpr Size kMaxBufferedBytes = 16384;

struct LocalShard {
    bool opened;
    bool sql;  // rows go through INSERT statements instead (triggers, row-level security, ...)
    Relation rel;
    ResultRelInfo *rri;
    int natts;
    int *map;  // shard attribute (0-based) -> row attribute (0-based), -1: none
    TupleTableSlot **slots;
    int nslots;     // slots made so far
    int nbuffered;  // rows in slots[0 .. nbuffered)
    Size bytes;
};

}  // namespace

struct LocalInsertState {
    MemoryContext cxt;
    EState *estate;
    TupleDesc row_desc;
    CommandId cid;
    int nshards;
    LocalShard *shards;
    // One for all shards, made at the first multi-row flush (COPY, large INSERTs): one ring of
    // buffers like a COPY into one table. A ring per shard would sweep 32 x 16 MB of shared buffers
    // through this backend (page faults, cache misses, other tables' pages evicted). Its pin is
    // released after each flush since it names a page of the shard just written.
    BulkInsertState bistate;
    uint64 rows;
};

namespace {

LocalInsertState *create_state(MemoryContext parent, TupleDesc row_desc, int nshards) {
    MemoryContext cxt = AllocSetContextCreate(parent, "rollup local insert", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    LocalInsertState *st = static_cast<LocalInsertState *>(palloc0(sizeof(LocalInsertState)));
    st->cxt = cxt;
    st->estate = CreateExecutorState();
    st->row_desc = row_desc;
    st->cid = GetCurrentCommandId(true);
    st->nshards = nshards;
    st->shards = static_cast<LocalShard *>(palloc0(sizeof(LocalShard) * nshards));
    MemoryContextSwitchTo(old);
    return st;
}

void open_shard(LocalInsertState *st, int idx, const char *schema, const char *relname) {
    LocalShard *s = &st->shards[idx];
    MemoryContext old = MemoryContextSwitchTo(st->cxt);
    Oid nsp = get_namespace_oid(schema, false);
    Oid relid = get_relname_relid(relname, nsp);
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("shard \"%s.%s\" does not exist on the coordinator", schema, relname)));
    Relation rel = table_open(relid, RowExclusiveLock);
    s->opened = true;
    s->rel = rel;
    // What a node checks when it runs the INSERT: privilege on the shard, a writable transaction.
    AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
    if (acl != ACLCHECK_OK) aclcheck_error(acl, get_relkind_objtype(rel->rd_rel->relkind), RelationGetRelationName(rel));
    PreventCommandIfReadOnly("INSERT");
    TupleConstr *constr = RelationGetDescr(rel)->constr;
    if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != NULL || rel->rd_rel->relrowsecurity ||
        (constr && constr->has_generated_stored)) {
        // Triggers (including foreign keys and deferred unique checks), policies, generated
        // columns: let the executor do it, through an INSERT statement.
        s->sql = true;
        MemoryContextSwitchTo(old);
        return;
    }
    ResultRelInfo *rri = makeNode(ResultRelInfo);
    InitResultRelInfo(rri, rel, 0, NULL, 0);
    ExecOpenIndices(rri, false);
    s->rri = rri;
    TupleDesc sd = RelationGetDescr(rel);
    TupleDesc rd = st->row_desc;
    s->natts = sd->natts;
    s->map = static_cast<int *>(palloc(sizeof(int) * sd->natts));
    for (int j = 0; j < sd->natts; j++) {
        s->map[j] = -1;
        Form_pg_attribute a = TupleDescAttr(sd, j);
        if (a->attisdropped) continue;
        for (int i = 0; i < rd->natts; i++) {
            Form_pg_attribute b = TupleDescAttr(rd, i);
            if (!b->attisdropped && namestrcmp(&b->attname, NameStr(a->attname)) == 0) {
                if (b->atttypid != a->atttypid)
                    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                                    errmsg("column \"%s\" of shard \"%s\" has another type than the table's",
                                           NameStr(a->attname), relname)));
                s->map[j] = i;
                break;
            }
        }
    }
    s->slots = static_cast<TupleTableSlot **>(palloc0(sizeof(TupleTableSlot *) * kMaxBufferedRows));
    MemoryContextSwitchTo(old);
}

void flush_shard(LocalInsertState *st, LocalShard *s) {
    const int n = s->nbuffered;
    if (n == 0) return;
    EState *estate = st->estate;
    if (n == 1 && !st->bistate) {
        table_tuple_insert(s->rel, s->slots[0], st->cid, 0, NULL);
    } else {
        if (!st->bistate) st->bistate = GetBulkInsertState();
        table_multi_insert(s->rel, s->slots, n, st->cid, 0, st->bistate);
        ReleaseBulkInsertStatePin(st->bistate);
    }
    for (int i = 0; i < n; i++) {
        if (s->rri->ri_NumIndices > 0) {
            List *recheck = ExecInsertIndexTuples(s->rri, s->slots[i], estate, false, false, NULL, NIL);
            list_free(recheck);
        }
        ResetPerTupleExprContext(estate);
        ExecClearTuple(s->slots[i]);
    }
    st->rows += n;
    s->nbuffered = 0;
    s->bytes = 0;
}

void add_row(LocalInsertState *st, int idx, const Datum *values, const bool *nulls) {
    LocalShard *s = &st->shards[idx];
    if (s->nbuffered == s->nslots) {
        MemoryContext old = MemoryContextSwitchTo(st->cxt);
        s->slots[s->nslots++] = table_slot_create(s->rel, NULL);
        MemoryContextSwitchTo(old);
    }
    TupleTableSlot *slot = s->slots[s->nbuffered];
    ExecClearTuple(slot);
    for (int j = 0; j < s->natts; j++) {
        int m = s->map[j];
        slot->tts_values[j] = m < 0 ? (Datum)0 : values[m];
        slot->tts_isnull[j] = m < 0 ? true : nulls[m];
    }
    ExecStoreVirtualTuple(slot);
    if (s->rel->rd_att->constr) ExecConstraints(s->rri, slot, st->estate);
    // The slot must own its data until the buffer is stored: the caller's values may not live that long.
    ExecMaterializeSlot(slot);
    s->nbuffered++;
    s->bytes += TTS_IS_BUFFERTUPLE(slot) ? reinterpret_cast<HeapTupleTableSlot *>(slot)->tuple->t_len : 128;
    ResetPerTupleExprContext(st->estate);
    if (s->nbuffered >= kMaxBufferedRows || s->bytes >= kMaxBufferedBytes) flush_shard(st, s);
}

// Stores every buffer and closes the shards (locks stay until the end of the transaction).
void finish_state(LocalInsertState *st) {
    for (int i = 0; i < st->nshards; i++) {
        LocalShard *s = &st->shards[i];
        if (s->opened && !s->sql) flush_shard(st, s);
    }
    for (int i = 0; i < st->nshards; i++) {
        LocalShard *s = &st->shards[i];
        if (!s->opened) continue;
        if (!s->sql) {
            ExecCloseIndices(s->rri);
            for (int k = 0; k < s->nslots; k++) ExecDropSingleTupleTableSlot(s->slots[k]);
        }
        table_close(s->rel, NoLock);
        s->opened = false;
    }
    if (st->bistate) {
        FreeBulkInsertState(st->bistate);
        st->bistate = NULL;
    }
    FreeExecutorState(st->estate);
    st->estate = NULL;
}

}  // namespace

LocalShardInserter::LocalShardInserter(const metadata::DistTable &table, TupleDesc row_desc,
                                       MemoryContext parent)
    : table_(table) {
    const int n = table.shard_count;
    st_ = pg::call([&] { return create_state(parent, row_desc, n); });
}

LocalShardInserter::~LocalShardInserter() {
    // After an error, the relations, index relations and buffer pins still open are released by
    // the resource owner at (sub)transaction abort; only our memory is ours to free.
    if (st_) MemoryContextDelete(st_->cxt);
}

bool LocalShardInserter::direct(int idx) {
    LocalShard *s = &st_->shards[idx];
    if (!s->opened) {
        const metadata::ShardInfo &shard = table_.shards[idx];
        std::string relname = metadata::shard_relname(table_.relname, shard.shardid);
        const char *schema = table_.schema.c_str();
        const char *rel = relname.c_str();
        LocalInsertState *st = st_;
        pg::call([&] { open_shard(st, idx, schema, rel); });
    }
    return !s->sql;
}

void LocalShardInserter::add(int idx, const Datum *values, const bool *nulls) {
    LocalInsertState *st = st_;
    pg::call([&] { add_row(st, idx, values, nulls); });
}

uint64_t LocalShardInserter::finish() {
    if (finished_) return st_->rows;
    finished_ = true;
    LocalInsertState *st = st_;
    pg::call([&] { finish_state(st); });
    return st_->rows;
}

}  // namespace rollup::exec
