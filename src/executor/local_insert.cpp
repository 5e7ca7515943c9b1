// Direct inserts into the coordinator's own shards: see local_insert.hpp for when and why.
// The functions in the anonymous namespace are PostgreSQL-style C: PODs and palloc'd pointers only,
// each called under one pg::call from LocalShardInserter.
#include <string>

#include "executor/local_insert.hpp"
#include "transaction/remote_transaction.hpp"

namespace rollup::exec {

namespace {

// Rows buffered across all shards before they are stored, all shards at once: the budget of
// PostgreSQL's COPY into one table (copyfrom.c), shared here the way it is shared across the
// partitions of a partitioned table. The slots in use are then ~1000 whatever the shard count, and
// stay in the CPU caches; per-shard budgets made 32 times as many.
constexpr int kMaxBufferedRows = 1000;
constexpr Size kMaxBufferedBytes = 65536;

// Slots for the shards that share one physical row layout (normally all of them): a slot serves
// any shard whose descriptor stores and reads values the same way. A buffered row is only its
// formed tuple (~t_len bytes); slots are taken for one shard at a time when the batch is stored,
// so the few in use stay in the CPU caches.
struct SlotPool {
    TupleDesc desc;                // the descriptor of the first shard that used the pool
    const TupleTableSlotOps *ops;  // the table AM's slot type (part of the key)
    // For table_multi_insert: room for `capacity`, nmade (>= 1) made so far. Idle between stores,
    // slots[0] also holds each row's values while they are checked and formed into a tuple (one
    // slot for a single-row INSERT).
    TupleTableSlot **slots;
    int capacity;
    int nmade;
};

struct LocalShard {
    bool opened;
    bool sql;  // rows go through INSERT statements instead (triggers, row-level security, ...)
    Relation rel;
    ResultRelInfo *rri;
    int natts;
    int *map;  // shard attribute (0-based) -> row attribute (0-based), -1: none
    SlotPool *pool;
    HeapTuple *batch;  // this shard's rows of the current batch (in cxt, freed by the slots once stored)
    uint64 *linenos;   // their COPY line numbers
    int capacity;
    int nbuffered;
};

}  // namespace

struct LocalInsertState {
    MemoryContext cxt;
    EState *estate;
    TupleDesc row_desc;
    CommandId cid;
    int nshards;
    LocalShard *shards;
    SlotPool *pools;  // npools of at most nshards
    int npools;
    int *pending;  // shards with rows in the batch, in the order of their first row
    int npending;
    int nbuffered;  // rows in the batch
    Size bytes;
    // One for all shards, made at the first multi-row flush (COPY, large INSERTs): one ring of
    // buffers like a COPY into one table. A ring per shard would sweep 32 x 16 MB of shared buffers
    // through this backend (page faults, cache misses, other tables' pages evicted). Its pin is
    // released after each shard since it names a page of the shard just written.
    BulkInsertState bistate;
    // The COPY the rows come from, if any: errors raised while a batch is stored name the line of
    // the row that failed, as PostgreSQL's COPY does.
    CopyFromState copy;
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
    st->pools = static_cast<SlotPool *>(palloc0(sizeof(SlotPool) * nshards));
    st->pending = static_cast<int *>(palloc(sizeof(int) * nshards));
    MemoryContextSwitchTo(old);
    return st;
}

// Whether a tuple formed or read with one descriptor is formed or read the same way with the
// other (heap_fill_tuple and the deforming code look at these fields only; names do not matter).
bool same_layout(TupleDesc a, TupleDesc b) {
    if (a->natts != b->natts) return false;
    for (int i = 0; i < a->natts; i++) {
        Form_pg_attribute x = TupleDescAttr(a, i);
        Form_pg_attribute y = TupleDescAttr(b, i);
        if (x->attisdropped != y->attisdropped || x->atttypid != y->atttypid || x->attlen != y->attlen ||
            x->attbyval != y->attbyval || x->attalign != y->attalign || x->attstorage != y->attstorage)
            return false;
    }
    return true;
}

SlotPool *pool_for(LocalInsertState *st, Relation rel) {
    TupleDesc desc = RelationGetDescr(rel);
    const TupleTableSlotOps *ops = table_slot_callbacks(rel);
    for (int i = 0; i < st->npools; i++) {
        SlotPool *p = &st->pools[i];
        if (p->ops == ops && same_layout(p->desc, desc)) return p;
    }
    SlotPool *p = &st->pools[st->npools++];
    p->desc = desc;
    p->ops = ops;
    p->capacity = 16;
    p->slots = static_cast<TupleTableSlot **>(palloc(sizeof(TupleTableSlot *) * p->capacity));
    // Heap: plain heap-tuple slots take our tuples as they are (a buffer-heap slot would copy them).
    p->slots[0] = MakeSingleTupleTableSlot(desc, ops == &TTSOpsBufferHeapTuple ? &TTSOpsHeapTuple : ops);
    p->nmade = 1;
    return p;
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
    s->pool = pool_for(st, rel);
    MemoryContextSwitchTo(old);
}

void flush_shard(LocalInsertState *st, LocalShard *s) {
    const int n = s->nbuffered;
    EState *estate = st->estate;
    CopyFromState copy = st->copy;
    SlotPool *pool = s->pool;
    if (pool->nmade < n) {
        MemoryContext old = MemoryContextSwitchTo(st->cxt);
        if (pool->capacity < n) {
            int cap = std::max(n, std::min(pool->capacity * 2, kMaxBufferedRows));
            pool->slots = static_cast<TupleTableSlot **>(repalloc(pool->slots, sizeof(TupleTableSlot *) * cap));
            pool->capacity = cap;
        }
        while (pool->nmade < n)
            pool->slots[pool->nmade++] = MakeSingleTupleTableSlot(pool->desc, pool->slots[0]->tts_ops);
        MemoryContextSwitchTo(old);
    }
    TupleTableSlot **slots = pool->slots;
    for (int i = 0; i < n; i++) {
        // The slot owns the tuple from now on (frees it when cleared).
        if (TTS_IS_HEAPTUPLE(slots[i]))
            ExecStoreHeapTuple(s->batch[i], slots[i], true);
        else
            ExecForceStoreHeapTuple(s->batch[i], slots[i], true);
    }
    s->nbuffered = 0;
    if (!st->bistate && st->nbuffered > 1) st->bistate = GetBulkInsertState();
    // table_multi_insert may leak (heap's allocates an array per call and keeps it): into the
    // per-tuple context, reset below, not the caller's context for the whole statement.
    MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
    if (!st->bistate) {
        table_tuple_insert(s->rel, slots[0], st->cid, 0, NULL);
    } else {
        table_multi_insert(s->rel, slots, n, st->cid, 0, st->bistate);
        ReleaseBulkInsertStatePin(st->bistate);
    }
    MemoryContextSwitchTo(old);
    for (int i = 0; i < n; i++) {
        if (s->rri->ri_NumIndices > 0) {
            if (copy) copy->cur_lineno = s->linenos[i];
            List *recheck = ExecInsertIndexTuples(s->rri, slots[i], estate, false, false, NULL, NIL);
            list_free(recheck);
        }
        ResetPerTupleExprContext(estate);
        ExecClearTuple(slots[i]);
    }
    st->rows += n;
}

// Stores the batch: every shard that has rows in it, in the order of their first row.
void flush_all(LocalInsertState *st) {
    if (st->nbuffered == 0) return;
    CopyFromState copy = st->copy;
    uint64 lineno = 0;
    if (copy) {
        // What PostgreSQL's COPY does around a flush: the line buffer holds another row now.
        lineno = copy->cur_lineno;
        copy->line_buf_valid = false;
    }
    for (int k = 0; k < st->npending; k++) flush_shard(st, &st->shards[st->pending[k]]);
    if (copy) {
        copy->cur_lineno = lineno;
        copy->line_buf_valid = true;
    }
    st->npending = 0;
    st->nbuffered = 0;
    st->bytes = 0;
}

void add_row(LocalInsertState *st, int idx, const Datum *values, const bool *nulls) {
    LocalShard *s = &st->shards[idx];
    SlotPool *pool = s->pool;
    TupleTableSlot *slot = pool->slots[0];
    ExecClearTuple(slot);
    for (int j = 0; j < s->natts; j++) {
        int m = s->map[j];
        slot->tts_values[j] = m < 0 ? (Datum)0 : values[m];
        slot->tts_isnull[j] = m < 0 ? true : nulls[m];
    }
    ExecStoreVirtualTuple(slot);
    if (s->rel->rd_att->constr) ExecConstraints(s->rri, slot, st->estate);
    // The row must own its data until the batch is stored: the caller's values may not live that long.
    MemoryContext old = MemoryContextSwitchTo(st->cxt);
    HeapTuple tuple = heap_form_tuple(pool->desc, slot->tts_values, slot->tts_isnull);
    MemoryContextSwitchTo(old);
    ExecClearTuple(slot);
    if (s->nbuffered == s->capacity) {
        int cap = s->capacity == 0 ? 16 : std::min(s->capacity * 2, kMaxBufferedRows);
        old = MemoryContextSwitchTo(st->cxt);
        size_t size = sizeof(HeapTuple) * cap, lsize = sizeof(uint64) * cap;
        s->batch = static_cast<HeapTuple *>(s->batch ? repalloc(s->batch, size) : palloc(size));
        s->linenos = static_cast<uint64 *>(s->linenos ? repalloc(s->linenos, lsize) : palloc(lsize));
        MemoryContextSwitchTo(old);
        s->capacity = cap;
    }
    if (s->nbuffered == 0) st->pending[st->npending++] = idx;
    s->linenos[s->nbuffered] = st->copy ? st->copy->cur_lineno : 0;
    s->batch[s->nbuffered++] = tuple;
    st->nbuffered++;
    st->bytes += tuple->t_len;
    ResetPerTupleExprContext(st->estate);
    if (st->nbuffered >= kMaxBufferedRows || st->bytes >= kMaxBufferedBytes) flush_all(st);
}

// Stores the batch and closes the shards (locks stay until the end of the transaction).
void finish_state(LocalInsertState *st) {
    flush_all(st);
    for (int i = 0; i < st->npools; i++) {
        SlotPool *p = &st->pools[i];
        for (int k = 0; k < p->nmade; k++) ExecDropSingleTupleTableSlot(p->slots[k]);
        p->nmade = 0;
    }
    st->npools = 0;
    for (int i = 0; i < st->nshards; i++) {
        LocalShard *s = &st->shards[i];
        if (!s->opened) continue;
        if (!s->sql) ExecCloseIndices(s->rri);
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

void LocalShardInserter::set_copy(CopyFromState copy) { st_->copy = copy; }

void LocalShardInserter::add(int idx, const Datum *values, const bool *nulls) {
    LocalInsertState *st = st_;
    pg::call([&] { add_row(st, idx, values, nulls); });
}

void LocalShardInserter::flush() {
    LocalInsertState *st = st_;
    pg::call([&] { flush_all(st); });
}

uint64_t LocalShardInserter::finish() {
    if (finished_) return st_->rows;
    finished_ = true;
    LocalInsertState *st = st_;
    pg::call([&] { finish_state(st); });
    return st_->rows;
}

}  // namespace rollup::exec
