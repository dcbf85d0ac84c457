#include "pg/access.hpp"

#include "pg/spi.hpp"

namespace geo_import::pg {

namespace {

bool caller_is_privileged(Oid caller) {
  return superuser_arg(caller) || has_bypassrls_privilege(caller) || has_privs_of_role(caller, GetUserId());
}

[[noreturn]] void refuse(Datum file_id, const char* detail) {
  ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                  errmsg("permission denied to import into project file %s",
                         DatumGetCString(DirectFunctionCall1(uuid_out, file_id))),
                  errdetail("%s", detail), errhint("Import as a member of the file's project, or as service_role.")));
  pg_unreachable();
}

}  // namespace

void check_import_access(Datum file_id, const char* schema) {
  const Oid caller = GetOuterUserId();
  const bool privileged = caller_is_privileged(caller);
  Oid types[] = {UUIDOID};
  Datum values[] = {file_id};
  bool found = false;
  const bool has_files = DatumGetBool(spi_value("SELECT pg_catalog.to_regclass('public.project_files') IS NOT NULL", 0,
                                                nullptr, nullptr, CurrentMemoryContext, &found));
  if (!has_files) {
    if (!privileged) refuse(file_id, "There is no table public.project_files to look the file's project up in.");
    return;
  }
  // FOR KEY SHARE: a concurrent deletion of the file waits for this import,
  // then removes it all, instead of leaving its rows behind.
  spi_value("SELECT 1 FROM public.project_files WHERE id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE", 1, types, values,
            CurrentMemoryContext, &found);
  if (!found) refuse(file_id, "The file does not exist in public.project_files.");
  if (privileged) return;
  const char* sql = psprintf("SELECT %s.geo_import_is_project_member($1)", schema);
  if (!DatumGetBool(spi_value(sql, 1, types, values, CurrentMemoryContext, &found))) {
    refuse(file_id, "The caller is not a member of the file's project.");
  }
}

}  // namespace geo_import::pg
