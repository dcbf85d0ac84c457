// The rows an import writes besides its features: its import_logs row, its
// feature collection and its layer. Must run inside SPI_connect.
#pragma once

#include "pg/postgres.hpp"

namespace geo_import::pg {

struct ImportRecord {
  const char* schema;  // the extension's schema, quoted
  Datum file_id;
  Datum log_id;
  Datum collection_id;
  Datum layer_id;
  MemoryContext context;  // where the ids live
};

// Inserts the log row `record->log_id` with status 'started', in this
// transaction (when no progress worker writes it).
void import_log_start(const ImportRecord* record);

void import_log_set_total(const ImportRecord* record, int32 total_features);

// Creates the import's feature collection and layer; with `own_table`, the
// layer's id is one whose features get a table of their own (see
// geo_import_own_layer_id in the extension script).
void import_create_collection(ImportRecord* record, const char* collection_name, const char* layer_name,
                              int32 source_srid, int32 srid, bool own_table);

// Reports cumulative counts through update_import_progress.
void import_log_progress(const ImportRecord* record, int32 imported, int32 failed, const char* metadata_json);

// Records the final counts and the import's report (the log's final
// metadata) on the collection and the layer, in the import's transaction.
void import_finish(const ImportRecord* record, int32 imported, const char* report_json);

}  // namespace geo_import::pg
