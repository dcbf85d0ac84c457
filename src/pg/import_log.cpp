#include "pg/import_log.hpp"

#include "pg/spi.hpp"

namespace geo_import::pg {

namespace {

Datum insert_returning_id(const ImportRecord* record, const char* sql, int nargs, const Oid* types,
                          const Datum* values) {
  bool found = false;
  Datum id = spi_value(sql, nargs, types, values, record->context, &found);
  if (!found) elog(ERROR, "geo_import: no id returned by: %s", sql);
  return id;
}

}  // namespace

void import_log_start(const ImportRecord* record) {
  Oid types[] = {UUIDOID, UUIDOID};
  Datum values[] = {record->log_id, record->file_id};
  spi_run(
      psprintf("INSERT INTO %s.import_logs (id, project_file_id, status) VALUES ($1, $2, 'started')", record->schema),
      2, types, values);
}

void import_log_set_total(const ImportRecord* record, int32 total_features) {
  Oid types[] = {UUIDOID, INT4OID};
  Datum values[] = {record->log_id, Int32GetDatum(total_features)};
  spi_run(psprintf("UPDATE %s.import_logs SET total_features = $2 WHERE id OPERATOR(pg_catalog.=) $1", record->schema),
          2, types, values);
}

void import_create_collection(ImportRecord* record, const char* collection_name, const char* layer_name,
                              int32 source_srid, int32 srid, bool own_table) {
  Oid collection_types[] = {UUIDOID, TEXTOID, INT4OID, INT4OID, UUIDOID};
  Datum collection_values[] = {record->file_id, CStringGetTextDatum(collection_name), Int32GetDatum(source_srid),
                               Int32GetDatum(srid), record->log_id};
  record->collection_id = insert_returning_id(
      record,
      psprintf("INSERT INTO %s.feature_collections (project_file_id, name, source_srid, srid, import_log_id)"
               " VALUES ($1, $2, $3, $4, $5) RETURNING id",
               record->schema),
      5, collection_types, collection_values);

  Oid layer_types[] = {UUIDOID, UUIDOID, TEXTOID, INT4OID, BOOLOID};
  Datum layer_values[] = {record->collection_id, record->file_id, CStringGetTextDatum(layer_name), Int32GetDatum(srid),
                          BoolGetDatum(own_table)};
  record->layer_id = insert_returning_id(
      record,
      psprintf("INSERT INTO %s.layers (id, collection_id, project_file_id, name, srid)"
               " VALUES (CASE WHEN $5 THEN %s.geo_import_own_layer_id() ELSE pg_catalog.gen_random_uuid() END,"
               " $1, $2, $3, $4) RETURNING id",
               record->schema, record->schema),
      5, layer_types, layer_values);
}

void import_log_progress(const ImportRecord* record, int32 imported, int32 failed, const char* metadata_json) {
  Oid types[] = {UUIDOID, INT4OID, INT4OID, UUIDOID, UUIDOID, JSONBOID};
  Datum values[] = {record->log_id,        Int32GetDatum(imported),
                    Int32GetDatum(failed), record->collection_id,
                    record->layer_id,      DirectFunctionCall1(jsonb_in, CStringGetDatum(metadata_json))};
  spi_run(psprintf("SELECT %s.update_import_progress($1, $2, $3, $4, $5, $6)", record->schema), 6, types, values);
}

void import_finish(const ImportRecord* record, int32 imported, const char* report_json) {
  Oid collection_types[] = {UUIDOID, INT4OID, JSONBOID};
  Datum collection_values[] = {record->collection_id, Int32GetDatum(imported),
                               DirectFunctionCall1(jsonb_in, CStringGetDatum(report_json))};
  spi_run(psprintf("UPDATE %s.feature_collections SET feature_count = $2, import_report = $3"
                   " WHERE id OPERATOR(pg_catalog.=) $1",
                   record->schema),
          3, collection_types, collection_values);
  Oid types[] = {UUIDOID, INT4OID};
  Datum layer_values[] = {record->layer_id, Int32GetDatum(imported)};
  spi_run(psprintf("UPDATE %s.layers SET feature_count = $2 WHERE id OPERATOR(pg_catalog.=) $1", record->schema), 2,
          types, layer_values);
}

}  // namespace geo_import::pg
