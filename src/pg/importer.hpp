// import_geojson: the whole import, from arguments to result row.
#pragma once

#include "pg/postgres.hpp"

namespace geo_import::pg {

// The setting geo_import.layer_table_threshold: an import of at least this
// many features writes its layer into a table of its own.
extern int layer_table_threshold;

// The body of the import_geojson entry point (run through guarded_entry).
Datum import_geojson(FunctionCallInfo fcinfo);

}  // namespace geo_import::pg
