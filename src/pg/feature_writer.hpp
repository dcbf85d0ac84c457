// The insert path: a batch's features become rows of the layer's partition
// of geo_features through the table AM's multi-insert and the executor's
// index insertion, as COPY does it. A layer with a table of its own (a large
// import) has no index while it fills; closing the writer attaches that
// table as the layer's partition, which builds its indexes in one pass each.
// PostgreSQL calls only; call through pg_call().
#pragma once

#include "core/import_pipeline.hpp"
#include "pg/postgres.hpp"

namespace geo_import::pg {

struct FeatureWriter;

struct FeatureTarget {
  Oid features_relation;         // geo_features: its identity numbers the rows
  const char* extension_schema;  // quoted, for the layer table's SQL functions
  bool own_table;                // the layer's id is one of geo_import_own_layer_id's
  Oid postgis_schema;
  Datum layer_id;
  Datum collection_id;
  int32 source_srid;  // the SRID of the EWKB the core writes
  int32 target_srid;  // reprojected with ST_Transform when different
  int batch_size;
};

FeatureWriter* feature_writer_open(const FeatureTarget& target);

// A feature of the batch whose geometry PostGIS refused or could not
// reproject (e.g. a coordinate PROJ cannot reproject): its position in the
// batch and PostGIS's message.
struct GeometryFailure {
  std::size_t position;
  const char* message;
};

// Makes the batch's geometries (EWKB to PostGIS, reprojected) in a
// subtransaction, so that a feature PostGIS refuses fails alone; such
// features are returned (in `*failures`, valid until the next write) for the
// caller to mark failed before feature_writer_write.
int feature_writer_prepare(FeatureWriter* writer, const core::Batch& batch, GeometryFailure** failures);

// Inserts the batch's imported and repaired features; failed ones are
// skipped. Call after feature_writer_prepare.
void feature_writer_write(FeatureWriter* writer, const core::Batch& batch);

// Ends the inserts; attaches a layer's own table as its partition.
void feature_writer_close(FeatureWriter* writer);

}  // namespace geo_import::pg
