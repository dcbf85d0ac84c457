// Live progress. An import's transaction is invisible to others until it
// commits, so a dynamic background worker (one per import, no
// shared_preload_libraries) writes its log row in transactions of its own:
// it inserts the row as 'started', commits the counts the import posts while
// it runs, and once the importing transaction is over gives the row its one
// terminal status through geo_import_settle(): completed if and only if that
// transaction committed, failed otherwise.
//
// The import and its worker share a small dynamic shared memory segment:
// the import overwrites the latest counts and sets the worker's latch, so
// reporting never blocks the import and the worker publishes only the
// newest counts, at most every progress interval.
#pragma once

#include "pg/postgres.hpp"

namespace geo_import::pg {

struct ProgressChannel;

// The setting geo_import.live_progress.
extern bool live_progress;

// Starts the worker and waits until it has committed the 'started' log row
// `log_id` for `file_id`, owned by the importing (sub)transaction. Returns
// null when live progress is off, or after a NOTICE when no worker can run;
// the caller then writes the log in its own transaction (progress visible at
// commit only).
ProgressChannel* progress_channel_open(const char* schema, Datum log_id, Datum file_id);

// Posts cumulative counts.
void progress_channel_report(ProgressChannel* channel, int32 total, int32 imported, int32 failed);

// The import function returned; its transaction decides the rest.
void progress_channel_finish(ProgressChannel* channel);

// The import is raising `message`: the worker will record it as the reason.
// Plain memory writes only, so it is safe on the way to ereport.
void progress_channel_fail(const char* message);

}  // namespace geo_import::pg

extern "C" PGDLLEXPORT void geo_import_progress_worker_main(Datum argument);
