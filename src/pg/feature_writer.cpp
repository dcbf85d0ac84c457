#include "pg/feature_writer.hpp"

#include <algorithm>

#include "pg/spi.hpp"

namespace geo_import::pg {

namespace {

// Tuples per table_multi_insert call, as COPY buffers them.
constexpr int kMaxBufferedTuples = 1000;

}  // namespace

struct FeatureWriter {
  const char* extension_schema;
  bool own_table;
  Relation relation;  // the layer's partition, or its own table to attach
  EState* estate;
  ResultRelInfo* result_relation;
  BulkInsertState bulk_state;
  CommandId command_id;
  TupleTableSlot** slots;
  int capacity;
  int buffered;
  int natts;
  Oid id_sequence;
  // 0-based column positions
  int id_column;
  int layer_column;
  int collection_column;
  int index_column;
  int feature_id_column;
  int properties_column;
  int geometry_column;
  Datum layer_id;
  Datum collection_id;
  FmgrInfo from_ewkb;
  FmgrInfo transform;
  bool reproject;
  bool reprojecting;  // the last geometry got as far as ST_Transform: which step an error came from
  int32 target_srid;
  MemoryContext batch_context;  // reset after each write
  Datum* geometries;            // the batch's geometries, by position, in batch_context
};

namespace {

int column(Relation relation, const char* name) {
  const AttrNumber number = get_attnum(RelationGetRelid(relation), name);
  if (number == InvalidAttrNumber) {
    elog(ERROR, "geo_import: table %s has no column %s", RelationGetRelationName(relation), name);
  }
  return number - 1;
}

Oid postgis_function(Oid schema, const char* name, int nargs, Oid* argument_types) {
  List* qualified = list_make2(makeString(get_namespace_name(schema)), makeString(pstrdup(name)));
  return LookupFuncName(qualified, nargs, argument_types, false);
}

// A feature's properties as a JsonbValue tree whose objects already hold
// their pairs in jsonb's order (shorter keys first, then bytewise; of equal
// keys only the last), so that JsonbValueToJsonb stores them as they are.
// pushJsonbValue would sort every object again with a qsort that costs a
// twentieth of a points import.
class JsonbTreeBuilder {
 public:
  JsonbTreeBuilder(const core::Batch& batch, const core::BatchFeature& feature) : batch_(batch), feature_(feature) {}

  Datum build() {
    JsonbValue root;
    read_value(&root);
    return JsonbPGetDatum(JsonbValueToJsonb(&root));
  }

 private:
  using Kind = core::PropertyToken::Kind;

  const core::PropertyToken& peek() const {
    if (next_ >= feature_.token_count) elog(ERROR, "geo_import: a feature's properties end too early");
    return batch_.tokens[feature_.first_token + next_];
  }
  const core::PropertyToken& take() {
    const core::PropertyToken& token = peek();
    ++next_;
    return token;
  }

  JsonbValue string_value(const core::PropertyToken& token) const {
    JsonbValue value;
    value.type = jbvString;
    value.val.string.val = const_cast<char*>(batch_.text.data()) + feature_.token_text_base + token.text_offset;
    value.val.string.len = static_cast<int>(token.text_length);
    return value;
  }

  void read_value(JsonbValue* out) {
    const core::PropertyToken& token = take();
    switch (token.kind) {
      case Kind::BeginObject:
        read_object(out);
        return;
      case Kind::BeginArray:
        read_array(out);
        return;
      case Kind::Key:
      case Kind::String:
        *out = string_value(token);
        return;
      case Kind::Number: {
        const char* text =
            pnstrdup(batch_.text.data() + feature_.token_text_base + token.text_offset, token.text_length);
        out->type = jbvNumeric;
        out->val.numeric = DatumGetNumeric(
            DirectFunctionCall3(numeric_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
        return;
      }
      case Kind::True:
      case Kind::False:
        out->type = jbvBool;
        out->val.boolean = token.kind == Kind::True;
        return;
      case Kind::Null:
        out->type = jbvNull;
        return;
      case Kind::EndObject:
      case Kind::EndArray:
        break;
    }
    elog(ERROR, "geo_import: a feature's properties are not balanced");
  }

  // Elements or pairs are collected into a palloc'd array that doubles.
  template <typename T>
  static T* grow(T* items, int count, int* capacity) {
    if (count < *capacity) return items;
    *capacity = *capacity == 0 ? 4 : *capacity * 2;
    return items == nullptr ? static_cast<T*>(palloc(sizeof(T) * *capacity))
                            : static_cast<T*>(repalloc(items, sizeof(T) * *capacity));
  }

  void enter() {
    // The reader fails a feature nested deeper than this; checked all the same.
    if (++depth_ > static_cast<int>(core::kMaxPropertyDepth)) elog(ERROR, "geo_import: properties nested too deeply");
  }

  void read_array(JsonbValue* out) {
    enter();
    JsonbValue* elements = nullptr;
    int count = 0;
    int capacity = 0;
    while (peek().kind != Kind::EndArray) {
      elements = grow(elements, count, &capacity);
      read_value(&elements[count++]);
    }
    take();
    --depth_;
    out->type = jbvArray;
    out->val.array.nElems = count;
    out->val.array.elems = elements;
    out->val.array.rawScalar = false;
  }

  void read_object(JsonbValue* out) {
    enter();
    JsonbPair* pairs = nullptr;
    int count = 0;
    int capacity = 0;
    while (peek().kind != Kind::EndObject) {
      const core::PropertyToken& key = take();
      if (key.kind != Kind::Key) elog(ERROR, "geo_import: a feature's properties hold an object without its key");
      pairs = grow(pairs, count, &capacity);
      pairs[count].key = string_value(key);
      pairs[count].order = static_cast<uint32>(count);
      read_value(&pairs[count].value);
      ++count;
    }
    take();
    --depth_;
    out->type = jbvObject;
    out->val.object.nPairs = in_jsonb_order(pairs, count);
    out->val.object.pairs = pairs;
  }

  // Sorts as jsonb does and keeps the last of equal keys; returns how many remain.
  static int in_jsonb_order(JsonbPair* pairs, int count) {
    std::sort(pairs, pairs + count, [](const JsonbPair& a, const JsonbPair& b) {
      const int a_length = a.key.val.string.len;
      const int b_length = b.key.val.string.len;
      if (a_length != b_length) return a_length < b_length;
      const int bytes = memcmp(a.key.val.string.val, b.key.val.string.val, a_length);
      if (bytes != 0) return bytes < 0;
      return a.order > b.order;
    });
    int kept = 0;
    for (int i = 0; i < count; ++i) {
      if (kept > 0 && pairs[kept - 1].key.val.string.len == pairs[i].key.val.string.len &&
          memcmp(pairs[kept - 1].key.val.string.val, pairs[i].key.val.string.val, pairs[i].key.val.string.len) == 0) {
        continue;
      }
      pairs[kept++] = pairs[i];
    }
    return kept;
  }

  const core::Batch& batch_;
  const core::BatchFeature& feature_;
  std::size_t next_ = 0;
  int depth_ = 0;
};

Datum geometry_from_ewkb(FeatureWriter* writer, const core::Batch& batch, const core::BatchFeature& feature) {
  bytea* ewkb = static_cast<bytea*>(palloc(VARHDRSZ + feature.ewkb_length));
  SET_VARSIZE(ewkb, VARHDRSZ + feature.ewkb_length);
  memcpy(VARDATA(ewkb), batch.ewkb.data() + feature.ewkb_offset, feature.ewkb_length);
  writer->reprojecting = false;
  Datum geometry = FunctionCall1(&writer->from_ewkb, PointerGetDatum(ewkb));
  if (writer->reproject) {
    writer->reprojecting = true;
    geometry = FunctionCall2(&writer->transform, geometry, Int32GetDatum(writer->target_srid));
  }
  return geometry;
}

bool stores_geometry(const core::BatchFeature& feature) {
  return feature.outcome != core::BatchFeature::Outcome::Failed && feature.has_geometry;
}

// Makes the geometries of positions [from, to) in a subtransaction. On an
// error that belongs to the data it returns the error, with the
// subtransaction rolled back; a cancel or a resource error is raised.
ErrorData* make_geometries_in_subtransaction(FeatureWriter* writer, const core::Batch& batch, std::size_t from,
                                             std::size_t to) {
  MemoryContext context = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  ErrorData* volatile error = nullptr;
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(context);
  PG_TRY();
  {
    for (std::size_t i = from; i < to; ++i) {
      CHECK_FOR_INTERRUPTS();
      if (stores_geometry(batch.features[i])) {
        writer->geometries[i] = geometry_from_ewkb(writer, batch, batch.features[i]);
      }
    }
    ReleaseCurrentSubTransaction();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(context);
    error = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
  }
  PG_END_TRY();
  MemoryContextSwitchTo(context);
  CurrentResourceOwner = owner;
  if (error != nullptr) {
    const int error_class = ERRCODE_TO_CATEGORY(error->sqlerrcode);
    if (error_class == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
        error_class == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) ||
        error_class == ERRCODE_TO_CATEGORY(ERRCODE_PROGRAM_LIMIT_EXCEEDED)) {
      ReThrowError(error);
    }
  }
  return error;
}

void flush(FeatureWriter* writer) {
  if (writer->buffered == 0) return;
  table_multi_insert(writer->relation, writer->slots, writer->buffered, writer->command_id, 0, writer->bulk_state);
  for (int i = 0; i < writer->buffered; ++i) {
    List* recheck =
        ExecInsertIndexTuples(writer->result_relation, writer->slots[i], writer->estate, false, false, nullptr, NIL);
    list_free(recheck);
    ExecClearTuple(writer->slots[i]);
  }
  ResetPerTupleExprContext(writer->estate);
  writer->buffered = 0;
}

}  // namespace

FeatureWriter* feature_writer_open(const FeatureTarget& target) {
  FeatureWriter* writer = static_cast<FeatureWriter*>(palloc0(sizeof(FeatureWriter)));
  writer->extension_schema = target.extension_schema;
  writer->own_table = target.own_table;
  Oid table_types[] = {UUIDOID};
  Datum table_values[] = {target.layer_id};
  bool found = false;
  const Oid layer_table =
      DatumGetObjectId(spi_value(psprintf("SELECT %s.geo_import_layer_table($1)", target.extension_schema), 1,
                                 table_types, table_values, CurrentMemoryContext, &found));
  if (!found) elog(ERROR, "geo_import: no table for the layer");
  // A partition takes geo_features' row triggers when it is attached, too
  // late for rows the bulk insert wrote.
  Relation features = table_open(target.features_relation, AccessShareLock);
  const bool has_triggers = features->trigdesc != nullptr;
  table_close(features, AccessShareLock);
  if (has_triggers) {
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("table geo_features has triggers, which geo_import's bulk insert would not fire")));
  }
  writer->relation = table_open(layer_table, RowExclusiveLock);
  writer->estate = CreateExecutorState();
  writer->result_relation = makeNode(ResultRelInfo);
  InitResultRelInfo(writer->result_relation, writer->relation, 1, nullptr, 0);
  ExecOpenIndices(writer->result_relation, false);
  writer->bulk_state = GetBulkInsertState();
  writer->command_id = GetCurrentCommandId(true);
  writer->estate->es_output_cid = writer->command_id;

  writer->capacity = Min(target.batch_size, kMaxBufferedTuples);
  writer->slots = static_cast<TupleTableSlot**>(palloc(sizeof(TupleTableSlot*) * writer->capacity));
  for (int i = 0; i < writer->capacity; ++i) writer->slots[i] = table_slot_create(writer->relation, nullptr);

  writer->natts = RelationGetDescr(writer->relation)->natts;
  writer->id_column = column(writer->relation, "id");
  writer->layer_column = column(writer->relation, "layer_id");
  writer->collection_column = column(writer->relation, "collection_id");
  writer->index_column = column(writer->relation, "feature_index");
  writer->feature_id_column = column(writer->relation, "feature_id");
  writer->properties_column = column(writer->relation, "properties");
  writer->geometry_column = column(writer->relation, "geom");
  writer->id_sequence =
      getIdentitySequence(target.features_relation, get_attnum(target.features_relation, "id"), false);
  writer->layer_id = target.layer_id;
  writer->collection_id = target.collection_id;

  Oid geometry_type = TupleDescAttr(RelationGetDescr(writer->relation), writer->geometry_column)->atttypid;
  Oid from_ewkb_args[] = {BYTEAOID};
  fmgr_info(postgis_function(target.postgis_schema, "st_geomfromewkb", 1, from_ewkb_args), &writer->from_ewkb);
  writer->reproject = target.source_srid != target.target_srid;
  writer->target_srid = target.target_srid;
  if (writer->reproject) {
    Oid transform_args[] = {geometry_type, INT4OID};
    fmgr_info(postgis_function(target.postgis_schema, "st_transform", 2, transform_args), &writer->transform);
  }
  writer->batch_context = AllocSetContextCreate(CurrentMemoryContext, "geo_import batch", ALLOCSET_DEFAULT_SIZES);
  return writer;
}

int feature_writer_prepare(FeatureWriter* writer, const core::Batch& batch, GeometryFailure** failures) {
  MemoryContext previous = MemoryContextSwitchTo(writer->batch_context);
  const std::size_t n = batch.features.size();
  writer->geometries = static_cast<Datum*>(palloc0(sizeof(Datum) * n));
  *failures = nullptr;
  int failed = 0;
  if (make_geometries_in_subtransaction(writer, batch, 0, n) != nullptr) {
    // Some feature PostGIS refuses or cannot reproject: find which, one at a time.
    *failures = static_cast<GeometryFailure*>(palloc(sizeof(GeometryFailure) * n));
    for (std::size_t i = 0; i < n; ++i) {
      if (!stores_geometry(batch.features[i])) continue;
      if (ErrorData* error = make_geometries_in_subtransaction(writer, batch, i, i + 1)) {
        (*failures)[failed++] = {
            i, writer->reprojecting
                   ? psprintf("cannot reproject it to SRID %d: %s", writer->target_srid, error->message)
                   : psprintf("PostGIS refused its geometry: %s", error->message)};
      }
    }
  }
  MemoryContextSwitchTo(previous);
  return failed;
}

void feature_writer_write(FeatureWriter* writer, const core::Batch& batch) {
  MemoryContext previous = MemoryContextSwitchTo(writer->batch_context);
  for (std::size_t position = 0; position < batch.features.size(); ++position) {
    const core::BatchFeature& feature = batch.features[position];
    CHECK_FOR_INTERRUPTS();
    if (feature.outcome == core::BatchFeature::Outcome::Failed) continue;
    if (writer->buffered == writer->capacity) flush(writer);
    TupleTableSlot* slot = writer->slots[writer->buffered++];
    ExecClearTuple(slot);
    Datum* values = slot->tts_values;
    bool* isnull = slot->tts_isnull;
    memset(isnull, true, sizeof(bool) * writer->natts);
    values[writer->id_column] = Int64GetDatum(nextval_internal(writer->id_sequence, false));
    values[writer->layer_column] = writer->layer_id;
    values[writer->collection_column] = writer->collection_id;
    values[writer->index_column] = Int32GetDatum(static_cast<int32>(feature.index));
    isnull[writer->id_column] = isnull[writer->layer_column] = isnull[writer->collection_column] =
        isnull[writer->index_column] = false;
    if (feature.has_id) {
      values[writer->feature_id_column] =
          PointerGetDatum(cstring_to_text_with_len(batch.text.data() + feature.id.offset, feature.id.length));
      isnull[writer->feature_id_column] = false;
    }
    if (feature.has_properties) {
      values[writer->properties_column] = JsonbTreeBuilder(batch, feature).build();
      isnull[writer->properties_column] = false;
    }
    if (feature.has_geometry) {
      values[writer->geometry_column] = writer->geometries[position];
      isnull[writer->geometry_column] = false;
    }
    ExecStoreVirtualTuple(slot);
  }
  flush(writer);
  MemoryContextSwitchTo(previous);
  MemoryContextReset(writer->batch_context);
}

void feature_writer_close(FeatureWriter* writer) {
  ExecCloseIndices(writer->result_relation);
  FreeBulkInsertState(writer->bulk_state);
  table_finish_bulk_insert(writer->relation, 0);
  for (int i = 0; i < writer->capacity; ++i) ExecDropSingleTupleTableSlot(writer->slots[i]);
  FreeExecutorState(writer->estate);
  Oid attach_types[] = {REGCLASSOID, UUIDOID};
  Datum attach_values[] = {ObjectIdGetDatum(RelationGetRelid(writer->relation)), writer->layer_id};
  table_close(writer->relation, NoLock);
  if (writer->own_table) {
    spi_run(psprintf("SELECT %s.geo_import_attach_layer_table($1, $2)", writer->extension_schema), 2, attach_types,
            attach_values);
  }
  MemoryContextDelete(writer->batch_context);
}

}  // namespace geo_import::pg
