// import_geojson: the whole import, from arguments to result row.
#pragma once

#include "pg/postgres.hpp"

namespace geo_import::pg {

// The body of the import_geojson entry point (run through guarded_entry).
Datum import_geojson(FunctionCallInfo fcinfo);

}  // namespace geo_import::pg
