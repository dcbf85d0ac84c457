// import_geojson. The first part resolves arguments, access and the log row
// with PostgreSQL calls only; run_import() then holds the core's C++ objects
// and reaches PostgreSQL through pg_call() alone.
#include "pg/importer.hpp"

#include <link.h>

#include <string>

#include "core/import_pipeline.hpp"
#include "core/import_report.hpp"
#include "pg/access.hpp"
#include "pg/feature_writer.hpp"
#include "pg/import_log.hpp"
#include "pg/import_options.hpp"
#include "pg/pg_guard.hpp"
#include "pg/progress_worker.hpp"
#include "pg/spi.hpp"

namespace geo_import::pg {

int layer_table_threshold = 10000;

namespace {

constexpr const char* kDefaultName = "GeoJSON import";
constexpr int32 kDefaultSrid = 4326;

// What the first part resolved, allocated in the import's memory context.
struct ImportCall {
  FunctionCallInfo fcinfo;
  ImportOptions options;
  ImportRecord record;
  Oid postgis_schema;
  Oid features_relation;
  const char* document;  // the payload's text
  std::size_t document_length;
  ProgressChannel* progress;  // null: the log is written in this transaction
  MemoryContext context;
};

// Polled by the core (and GEOS) between features and inside long operations.
bool cancel_requested() { return QueryCancelPending || ProcDiePending; }

// The import's pipeline runs a producer thread. A FATAL error exits the
// backend without unwinding run_import, and exit() must not run while that
// thread, or one a canceled import left inside GEOS, still runs: this
// callback stops and joins them first.
core::ImportPipeline* live_pipeline = nullptr;

void stop_live_pipeline(int, Datum) {
  if (live_pipeline != nullptr) live_pipeline->stop();
  core::ImportPipeline::wait_for_abandoned();
}

// Makes `pipeline` the one stop_live_pipeline stops, for its lifetime.
class LivePipeline {
 public:
  explicit LivePipeline(core::ImportPipeline& pipeline) {
    static bool registered = false;
    if (!registered) {
      before_shmem_exit(stop_live_pipeline, 0);
      registered = true;
    }
    live_pipeline = &pipeline;
  }
  ~LivePipeline() { live_pipeline = nullptr; }
  LivePipeline(const LivePipeline&) = delete;
  LivePipeline& operator=(const LivePipeline&) = delete;
};

#if defined(__GLIBC__)
struct ThreadLocalIndex {  // glibc's tls_index
  unsigned long module;
  unsigned long offset;
};
extern "C" void* __tls_get_addr(ThreadLocalIndex*);

int allocate_module_thread_locals(dl_phdr_info* info, size_t, void*) {
  if (info->dlpi_tls_modid != 0) {
    ThreadLocalIndex index{info->dlpi_tls_modid, 0};
    __tls_get_addr(&index);
  }
  return 0;
}
#endif

// PostGIS's SIGINT handler (a cancel, a statement timeout) writes a
// thread-local variable. glibc allocates a thread's block of a dlopen()ed
// library's thread-locals when the thread first uses it, with malloc: first
// used in a handler that interrupted a malloc, that deadlocks the backend.
// Allocating every loaded library's block here, on the backend's thread,
// leaves the handler nothing to allocate.
void allocate_thread_locals() {
#if defined(__GLIBC__)
  dl_iterate_phdr(allocate_module_thread_locals, nullptr);
#endif
}

// The payload read in place: no copy of what may be hundreds of megabytes
// (a compressed or external value is detoasted once, into `context`).
const char* payload_text(FunctionCallInfo fcinfo, MemoryContext context, std::size_t* length) {
  MemoryContext previous = MemoryContextSwitchTo(context);
  text* payload = PG_GETARG_TEXT_PP(1);
  MemoryContextSwitchTo(previous);
  *length = VARSIZE_ANY_EXHDR(payload);
  return VARDATA_ANY(payload);
}

void check_srid(Oid postgis_schema, int32 srid, const char* role) {
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(srid)};
  bool found = false;
  spi_value(psprintf("SELECT 1 FROM %s.spatial_ref_sys WHERE srid OPERATOR(pg_catalog.=) $1",
                     quote_identifier(get_namespace_name(postgis_schema))),
            1, types, values, CurrentMemoryContext, &found);
  if (!found) {
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("the %s SRID %d is not in spatial_ref_sys", role, srid),
             errhint("Give a source_srid or target_srid that PostGIS knows, such as 4326 or 2056.")));
  }
}

// The log's metadata: the report so far with the settings and the counts.
std::string report_json(const core::ImportReport& report, const std::string& settings, int32 total) {
  return report.metadata_json(settings + ",\"total_features\":" + std::to_string(total) +
                              ",\"imported_count\":" + std::to_string(report.imported()) +
                              ",\"failed_count\":" + std::to_string(report.failed()));
}

// "source_srid": ..., as members for the log's metadata.
std::string settings_json(const ImportCall& call, int32 source_srid, int32 target_srid) {
  return "\"source_srid\":" + std::to_string(source_srid) + ",\"target_srid\":" + std::to_string(target_srid) +
         ",\"on_invalid\":" + core::json_quote(invalid_policy_name(call.options.on_invalid));
}

// Cumulative counts, to the worker, or without one to the log in this
// transaction (then with the metadata so far).
void report_progress(const ImportCall& call, int32 total, int32 imported, int32 failed, const char* metadata) {
  if (call.progress != nullptr) {
    progress_channel_report(call.progress, total, imported, failed);
    return;
  }
  if (metadata == nullptr) {
    import_log_set_total(&call.record, total);
  } else {
    import_log_progress(&call.record, imported, failed, metadata);
  }
}

[[noreturn]] void fail_on_invalid(const core::Batch& batch, const core::BatchFeature& feature) {
  std::string message = "feature " + std::to_string(feature.index);
  if (feature.has_id) message += " (id " + core::json_quote(batch.view(feature.id)) + ")";
  message += " cannot be imported: " + std::string(batch.view(feature.reason));
  throw SqlError(ERRCODE_DATA_EXCEPTION, message, "on_invalid is \"fail\", so nothing was imported.",
                 "Use on_invalid \"repair\" or \"skip\" to import the other features.");
}

Datum result_row(const ImportCall& call, const core::ImportReport& report, int32 total, const char* summary) {
  TupleDesc descriptor;
  if (get_call_result_type(call.fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE) {
    elog(ERROR, "geo_import: import_geojson must return a composite type");
  }
  descriptor = BlessTupleDesc(descriptor);
  Datum values[9] = {call.record.log_id,
                     CStringGetTextDatum("completed"),
                     Int32GetDatum(total),
                     Int32GetDatum(static_cast<int32>(report.imported())),
                     Int32GetDatum(static_cast<int32>(report.failed())),
                     Int32GetDatum(static_cast<int32>(report.repaired())),
                     call.record.collection_id,
                     call.record.layer_id,
                     summary[0] != '\0' ? CStringGetTextDatum(summary) : (Datum)0};
  bool nulls[9] = {false, false, false, false, false, false, false, false, summary[0] == '\0'};
  return HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls));
}

Datum run_import(ImportCall& call) {
  core::ImportPipeline pipeline(call.document, call.document_length, cancel_requested);
  const LivePipeline live(pipeline);
  const int32 source_srid =
      call.options.source_srid != 0 ? call.options.source_srid : pipeline.crs_srid().value_or(kDefaultSrid);
  const int32 target_srid = call.options.target_srid != 0 ? call.options.target_srid : source_srid;
  if (pipeline.feature_count() > static_cast<std::size_t>(PG_INT32_MAX)) {
    throw SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "the payload holds more than 2147483647 features");
  }
  const auto total = static_cast<int32>(pipeline.feature_count());
  const std::string settings = settings_json(call, source_srid, target_srid);
  const bool own_table = total >= layer_table_threshold;

  FeatureWriter* writer = nullptr;
  pg_call([&] {
    check_srid(call.postgis_schema, source_srid, "source");
    check_srid(call.postgis_schema, target_srid, "target");
    report_progress(call, total, 0, 0, nullptr);
    MemoryContext previous = MemoryContextSwitchTo(call.context);
    import_create_collection(&call.record, call.options.collection_name ? call.options.collection_name : kDefaultName,
                             call.options.layer_name        ? call.options.layer_name
                             : call.options.collection_name ? call.options.collection_name
                                                            : kDefaultName,
                             source_srid, target_srid, own_table);
    writer = feature_writer_open(FeatureTarget{call.features_relation, call.record.schema, own_table,
                                               call.postgis_schema, call.record.layer_id, call.record.collection_id,
                                               source_srid, target_srid, call.options.batch_size});
    allocate_thread_locals();  // PostGIS is loaded now
    MemoryContextSwitchTo(previous);
  });

  core::PipelineOptions pipeline_options;
  pipeline_options.on_invalid = call.options.on_invalid;
  pipeline_options.srid = source_srid;
  pipeline_options.batch_features = static_cast<std::size_t>(call.options.batch_size);
  pipeline.start(pipeline_options);

  core::ImportReport report(static_cast<std::size_t>(call.options.max_errors));
  core::Batch batch;
  while (pipeline.next_batch(batch)) {
    GeometryFailure* failures = nullptr;
    int failure_count = 0;
    pg_call([&] { failure_count = feature_writer_prepare(writer, batch, &failures); });
    for (int i = 0; i < failure_count; ++i) batch.mark_failed(failures[i].position, failures[i].message);
    if (call.options.on_invalid == core::InvalidPolicy::Fail) {
      for (const core::BatchFeature& feature : batch.features) {
        if (feature.outcome == core::BatchFeature::Outcome::Failed) fail_on_invalid(batch, feature);
      }
    }
    report.add(batch);
    const std::string metadata = call.progress != nullptr ? std::string() : report_json(report, settings, total);
    pg_call([&] {
      feature_writer_write(writer, batch);
      report_progress(call, total, static_cast<int32>(report.imported()), static_cast<int32>(report.failed()),
                      metadata.c_str());
    });
  }

  const std::string final_report = report_json(report, settings, total);
  const std::string summary = report.error_summary();
  Datum result = 0;
  pg_call([&] {
    feature_writer_close(writer);
    import_finish(&call.record, static_cast<int32>(report.imported()), final_report.c_str());
    if (call.progress != nullptr) {
      progress_channel_finish(call.progress);
    } else {
      // Without a worker the log lives in this transaction; the last batch
      // completed it, unless the payload had no feature at all.
      import_log_progress(&call.record, static_cast<int32>(report.imported()), static_cast<int32>(report.failed()),
                          final_report.c_str());
    }
    if (SPI_finish() != SPI_OK_FINISH) elog(ERROR, "geo_import: SPI_finish failed");
    result = result_row(call, report, total, summary.c_str());
  });
  return result;
}

}  // namespace

Datum import_geojson(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0)) {
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("file_id must not be null")));
  }
  if (PG_ARGISNULL(1)) {
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("payload must not be null")));
  }
  if (GetDatabaseEncoding() != PG_UTF8) {
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("geo_import needs a database with UTF8 encoding"),
                    errdetail("GeoJSON is UTF-8 (RFC 7946); this database is %s.", GetDatabaseEncodingName())));
  }

  MemoryContext context = AllocSetContextCreate(CurrentMemoryContext, "geo_import", ALLOCSET_DEFAULT_SIZES);
  MemoryContext caller_context = MemoryContextSwitchTo(context);
  ImportCall* call = static_cast<ImportCall*>(palloc0(sizeof(ImportCall)));
  call->fcinfo = fcinfo;
  call->context = context;
  call->options = parse_import_options(PG_ARGISNULL(2) ? nullptr : PG_GETARG_JSONB_P(2));

  const Oid schema = get_func_namespace(fcinfo->flinfo->fn_oid);
  call->record.schema = quote_identifier(get_namespace_name(schema));
  call->record.file_id = PG_GETARG_DATUM(0);
  call->record.context = context;
  call->features_relation = get_relname_relid("geo_features", schema);
  if (!OidIsValid(call->features_relation)) elog(ERROR, "geo_import: table geo_features is missing");
  MemoryContextSwitchTo(caller_context);

  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "geo_import: SPI_connect failed");
  bool found = false;
  call->postgis_schema = DatumGetObjectId(
      spi_value("SELECT extnamespace FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'postgis'", 0,
                nullptr, nullptr, context, &found));
  if (!found) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("geo_import needs the postgis extension")));
  check_import_access(call->record.file_id, call->record.schema);
  spi_run(psprintf("SELECT %s.geo_import_attach_project_files()", call->record.schema), 0, nullptr, nullptr);
  call->record.log_id = DirectFunctionCall1(gen_random_uuid, (Datum)0);
  call->progress = progress_channel_open(call->record.schema, call->record.log_id, call->record.file_id);
  if (call->progress == nullptr) import_log_start(&call->record);
  // Reading a large payload from its table may see a cancel: in pg_call, the
  // error takes the import's error path, which tells the worker why.
  pg_call([&] { call->document = payload_text(fcinfo, context, &call->document_length); });

  Datum result = run_import(*call);
  return result;
}

}  // namespace geo_import::pg
