// Small SPI helpers. PostgreSQL calls only: errors are raised with ereport.
#pragma once

#include "pg/postgres.hpp"

namespace geo_import::pg {

// Runs `sql` with `nargs` arguments (no NULLs) and returns the first column
// of its first row, copied into `result_context`; *found is false when there
// was no row (then the result is 0).
Datum spi_value(const char* sql, int nargs, const Oid* types, const Datum* values, MemoryContext result_context,
                bool* found);

// Runs `sql` with arguments; `nulls` as SPI takes it (' ' or 'n'), or null.
void spi_run(const char* sql, int nargs, const Oid* types, const Datum* values, const char* nulls = nullptr);

}  // namespace geo_import::pg
