// The `options` argument of import_geojson.
#pragma once

#include "core/geometry_validation.hpp"
#include "pg/postgres.hpp"

namespace geo_import::pg {

struct ImportOptions {
  const char* collection_name = nullptr;  // nullptr: the default name
  const char* layer_name = nullptr;
  int32 source_srid = 0;  // 0: from the crs member, else 4326
  int32 target_srid = 0;  // 0: the source SRID
  core::InvalidPolicy on_invalid = core::InvalidPolicy::Repair;
  int32 batch_size = 5000;
  int32 max_errors = 100;
};

// Reads the options object; raises 22023 for an unknown key or a value of
// the wrong type or range. A JSON null leaves an option at its default.
ImportOptions parse_import_options(Jsonb* options);

// The name `on_invalid` takes for `policy`.
const char* invalid_policy_name(core::InvalidPolicy policy);

}  // namespace geo_import::pg
