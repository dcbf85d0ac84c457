#include "pg/spi.hpp"

namespace geo_import::pg {

namespace {

void execute(const char* sql, int nargs, const Oid* types, const Datum* values, const char* nulls) {
  const int rc =
      SPI_execute_with_args(sql, nargs, const_cast<Oid*>(types), const_cast<Datum*>(values), nulls, false, 0);
  if (rc < 0) elog(ERROR, "geo_import: SPI failed (%s) running: %s", SPI_result_code_string(rc), sql);
}

}  // namespace

Datum spi_value(const char* sql, int nargs, const Oid* types, const Datum* values, MemoryContext result_context,
                bool* found) {
  execute(sql, nargs, types, values, nullptr);
  *found = SPI_processed > 0;
  if (!*found) return (Datum)0;
  bool isnull = false;
  Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  if (isnull) {
    *found = false;
    return (Datum)0;
  }
  Form_pg_attribute attribute = TupleDescAttr(SPI_tuptable->tupdesc, 0);
  MemoryContext previous = MemoryContextSwitchTo(result_context);
  value = datumCopy(value, attribute->attbyval, attribute->attlen);
  MemoryContextSwitchTo(previous);
  return value;
}

void spi_run(const char* sql, int nargs, const Oid* types, const Datum* values, const char* nulls) {
  execute(sql, nargs, types, values, nulls);
}

}  // namespace geo_import::pg
