// Who may import into a project file.
#pragma once

#include "pg/postgres.hpp"

namespace geo_import::pg {

// Raises 42501 unless the caller may import into `file_id`: a privileged role
// (superuser, BYPASSRLS such as service_role, or a member of the extension's
// owner) or, where public.project_files exists, a member of the file's
// project by the `sub` of the JWT claims. The caller is the role in effect
// outside this SECURITY DEFINER function (PostgREST's SET LOCAL ROLE).
// Must run inside SPI_connect.
void check_import_access(Datum file_id, const char* schema);

}  // namespace geo_import::pg
