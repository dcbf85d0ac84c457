// The extension's fmgr entry points, each guarded (see pg_guard.hpp).
#include <cstring>
#include <new>

#include "core/cancel.hpp"
#include "core/geojson_reader.hpp"
#include "pg/importer.hpp"
#include "pg/pg_guard.hpp"
#include "pg/progress_worker.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void) {
  DefineCustomBoolVariable("geo_import.live_progress",
                           "Publishes an import's progress from a background worker while it runs.",
                           "When off, the import writes its log in its own transaction: subscribers see the "
                           "progress when it commits.",
                           &geo_import::pg::live_progress, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("geo_import.layer_table_threshold",
                          "Imports of at least this many features write their layer into a table of its own.",
                          "That table is filled before it has an index and attached to geo_features as the "
                          "layer's partition at the end, which builds its indexes in one pass. Smaller imports "
                          "write into the partition all other layers share.",
                          &geo_import::pg::layer_table_threshold, 10000, 1, INT_MAX, PGC_USERSET, 0, nullptr, nullptr,
                          nullptr);
  MarkGUCPrefixReserved("geo_import");
}

PG_FUNCTION_INFO_V1(import_geojson);
Datum import_geojson(PG_FUNCTION_ARGS) { return geo_import::pg::guarded_entry(geo_import::pg::import_geojson, fcinfo); }
}

namespace geo_import::pg {

namespace {

int document_error_sqlstate(core::DocumentError::Kind kind) {
  switch (kind) {
    case core::DocumentError::Kind::Malformed:
      return ERRCODE_INVALID_JSON_TEXT;
    case core::DocumentError::Kind::NotGeoJson:
    case core::DocumentError::Kind::Unsupported:
      break;
  }
  return ERRCODE_INVALID_PARAMETER_VALUE;
}

// The error PostgreSQL raises for the interrupt the core noticed, caught:
// its message says why (statement timeout, user request, lock timeout).
// Null when no interrupt is pending any more. A pending termination exits
// the backend from here, as CHECK_FOR_INTERRUPTS() anywhere would.
ErrorData* pending_interrupt_error() {
  return catch_pg_error([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace

Datum guarded_entry(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) {
  // Plain buffers: nothing with a destructor may be alive when ereport jumps.
  ErrorData* pg_error = nullptr;
  bool interrupted = false;
  int sqlstate = ERRCODE_INTERNAL_ERROR;
  char message[4096] = "";
  char detail[4096] = "";
  char hint[1024] = "";
  try {
    return body(fcinfo);
  } catch (const PgError& error) {
    pg_error = error.data;
  } catch (const SqlError& error) {
    sqlstate = error.sqlstate;
    strlcpy(message, error.what(), sizeof message);
    strlcpy(detail, error.detail.c_str(), sizeof detail);
    strlcpy(hint, error.hint.c_str(), sizeof hint);
  } catch (const core::DocumentError& error) {
    sqlstate = document_error_sqlstate(error.kind);
    strlcpy(message, error.what(), sizeof message);
  } catch (const core::Interrupted&) {
    interrupted = true;
  } catch (const std::bad_alloc&) {
    sqlstate = ERRCODE_OUT_OF_MEMORY;
    strlcpy(message, "geo_import ran out of memory", sizeof message);
  } catch (const std::exception& error) {
    strlcpy(message, error.what(), sizeof message);
  } catch (...) {
    strlcpy(message, "geo_import failed with an unknown C++ exception", sizeof message);
  }
  if (interrupted) {
    pg_error = pending_interrupt_error();
    sqlstate = ERRCODE_QUERY_CANCELED;
    strlcpy(message, "canceling statement due to user request", sizeof message);
  }
  // An import's progress worker records why it failed.
  progress_channel_fail(pg_error != nullptr ? pg_error->message : message);
  if (pg_error != nullptr) ReThrowError(pg_error);
  ereport(ERROR, (errcode(sqlstate), errmsg("%s", message), detail[0] != '\0' ? errdetail("%s", detail) : 0,
                  hint[0] != '\0' ? errhint("%s", hint) : 0));
  pg_unreachable();
}

}  // namespace geo_import::pg
