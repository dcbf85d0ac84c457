#include "pg/progress_worker.hpp"

#include "pg/pg_guard.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"
}

#include "pg/spi.hpp"

namespace geo_import::pg {

bool live_progress = true;

namespace {

// The worker publishes counts at most this often.
constexpr long kProgressIntervalMs = 100;

// How long an import waits for its worker to commit the 'started' row.
constexpr long kStartTimeoutMs = 10000;

constexpr int kReasonSize = 1024;

enum class WorkerState : uint32 { Starting, LogInserted, Failed };

struct ProgressShared {
  Oid database;
  Oid owner;
  char schema[2 * NAMEDATALEN + 3];  // quoted
  pg_uuid_t log_id;
  pg_uuid_t file_id;
  FullTransactionId import_xid;
  Latch* importer_latch;
  Latch* worker_latch;
  pg_atomic_uint32 worker_state;

  slock_t mutex;  // guards what follows
  bool total_known;
  int32 total;
  int32 imported;
  int32 failed;
  bool import_over;
  char reason[kReasonSize];
};

}  // namespace

struct ProgressChannel {
  dsm_segment* segment;
  ProgressShared* shared;
};

namespace {

// The channel of the import running in this backend, for progress_channel_fail.
ProgressChannel* g_active_channel = nullptr;

void wake_worker(ProgressShared* shared) {
  Latch* latch = shared->worker_latch;
  if (latch != nullptr) SetLatch(latch);
}

// Tells the worker the import is over, and why.
void report_failure(ProgressShared* shared, const char* message) {
  SpinLockAcquire(&shared->mutex);
  strlcpy(shared->reason, message, sizeof shared->reason);
  shared->import_over = true;
  SpinLockRelease(&shared->mutex);
  wake_worker(shared);
}

// CHECK_FOR_INTERRUPTS() while the worker starts: the error it raises goes
// past the import's error path, so its reason is left for the worker here.
void check_for_interrupts_while_starting(ProgressShared* shared) {
  if (!INTERRUPTS_PENDING_CONDITION()) return;
  ErrorData* error = catch_pg_error([] { CHECK_FOR_INTERRUPTS(); });
  if (error == nullptr) return;
  report_failure(shared, error->message);
  ReThrowError(error);
}

}  // namespace

ProgressChannel* progress_channel_open(const char* schema, Datum log_id, Datum file_id) {
  if (!live_progress) return nullptr;
  dsm_segment* segment = dsm_create(sizeof(ProgressShared), 0);
  auto* shared = static_cast<ProgressShared*>(dsm_segment_address(segment));
  memset(shared, 0, sizeof(ProgressShared));
  shared->database = MyDatabaseId;
  shared->owner = GetUserId();  // the extension's owner, inside SECURITY DEFINER
  strlcpy(shared->schema, schema, sizeof shared->schema);
  memcpy(&shared->log_id, DatumGetUUIDP(log_id), sizeof(pg_uuid_t));
  memcpy(&shared->file_id, DatumGetUUIDP(file_id), sizeof(pg_uuid_t));
  shared->import_xid = GetCurrentFullTransactionId();
  shared->importer_latch = MyLatch;
  pg_atomic_init_u32(&shared->worker_state, static_cast<uint32>(WorkerState::Starting));
  SpinLockInit(&shared->mutex);

  BackgroundWorker worker;
  memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = BGW_NEVER_RESTART;
  strlcpy(worker.bgw_library_name, "geo_import", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "geo_import_progress_worker_main", BGW_MAXLEN);
  strlcpy(worker.bgw_name, "geo_import progress", BGW_MAXLEN);
  strlcpy(worker.bgw_type, "geo_import progress", BGW_MAXLEN);
  worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
  worker.bgw_notify_pid = MyProcPid;

  BackgroundWorkerHandle* handle = nullptr;
  const char* problem = nullptr;
  if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
    problem = "no background worker slot is free (see max_worker_processes)";
  } else {
    const TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kStartTimeoutMs);
    while (true) {
      const auto state = static_cast<WorkerState>(pg_atomic_read_u32(&shared->worker_state));
      if (state == WorkerState::LogInserted) break;
      pid_t pid;
      if (state == WorkerState::Failed || GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED) {
        problem = "the progress worker stopped before it could write the log (see the server log)";
        break;
      }
      if (GetCurrentTimestamp() >= deadline) {
        TerminateBackgroundWorker(handle);
        problem = "the progress worker did not start in time";
        break;
      }
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      check_for_interrupts_while_starting(shared);
    }
  }
  if (problem != nullptr) {
    dsm_detach(segment);
    ereport(NOTICE,
            (errmsg("geo_import: %s; this import's progress will be visible when its transaction commits", problem)));
    return nullptr;
  }
  auto* channel = static_cast<ProgressChannel*>(palloc(sizeof(ProgressChannel)));
  channel->segment = segment;
  channel->shared = shared;
  g_active_channel = channel;
  return channel;
}

void progress_channel_report(ProgressChannel* channel, int32 total, int32 imported, int32 failed) {
  ProgressShared* shared = channel->shared;
  SpinLockAcquire(&shared->mutex);
  shared->total_known = true;
  shared->total = total;
  shared->imported = imported;
  shared->failed = failed;
  SpinLockRelease(&shared->mutex);
  wake_worker(shared);
}

void progress_channel_finish(ProgressChannel* channel) {
  ProgressShared* shared = channel->shared;
  SpinLockAcquire(&shared->mutex);
  shared->import_over = true;
  SpinLockRelease(&shared->mutex);
  wake_worker(shared);
  g_active_channel = nullptr;
  dsm_detach(channel->segment);
}

void progress_channel_fail(const char* message) {
  if (g_active_channel == nullptr) return;
  report_failure(g_active_channel->shared, message);
  g_active_channel = nullptr;  // the segment is detached when the transaction aborts
}

namespace {

// The worker's side. Each step runs in a transaction of its own.
class ProgressWorker {
 public:
  explicit ProgressWorker(ProgressShared* shared) : shared_(shared) {}

  void run() {
    in_transaction([this] {
      spi_run(psprintf("SELECT %s.geo_import_reap()", shared_->schema), 0, nullptr, nullptr);
      Oid types[] = {UUIDOID, UUIDOID, XID8OID};
      Datum values[] = {UUIDPGetDatum(&shared_->log_id), UUIDPGetDatum(&shared_->file_id),
                        FullTransactionIdGetDatum(shared_->import_xid)};
      spi_run(psprintf("INSERT INTO %s.import_logs (id, project_file_id, status, import_xid)"
                       " VALUES ($1, $2, 'started', $3)",
                       shared_->schema),
              3, types, values);
      // Held until this worker exits: a reaper leaves the log to it.
      spi_run(psprintf("SELECT pg_catalog.pg_advisory_lock(%s.geo_import_worker_lock_class(),"
                       " pg_catalog.hashtext($1::text))",
                       shared_->schema),
              1, types, values);
    });
    pg_atomic_write_u32(&shared_->worker_state, static_cast<uint32>(WorkerState::LogInserted));
    SetLatch(shared_->importer_latch);

    // Wakes for each batch the import posts, but publishes at most once per
    // interval; asks whether the importing transaction is over only when
    // the import says it is done or an interval has passed.
    TimestampTz next_publish = 0;
    TimestampTz next_check = 0;
    while (true) {
      const TimestampTz now = GetCurrentTimestamp();
      if (import_says_over() || now >= next_check) {
        if (import_transaction_over()) break;
        next_check = TimestampTzPlusMilliseconds(now, kProgressIntervalMs);
      }
      if (now >= next_publish && publish_progress()) {
        next_publish = TimestampTzPlusMilliseconds(now, kProgressIntervalMs);
      }
      const long wait_ms = Max(1, (Min(next_publish > now ? next_publish : next_check, next_check) - now) / 1000);
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
    }
    settle();
  }

 private:
  template <typename Step>
  static void in_transaction(Step&& step) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "geo_import progress: SPI_connect failed");
    PushActiveSnapshot(GetTransactionSnapshot());
    step();
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_stat(false);
  }

  // Whether the importing (sub)transaction has committed or aborted.
  bool import_transaction_over() {
    StartTransactionCommand();
    const bool over = ConditionalXactLockTableWait(XidFromFullTransactionId(shared_->import_xid));
    CommitTransactionCommand();
    return over;
  }

  bool import_says_over() {
    SpinLockAcquire(&shared_->mutex);
    const bool over = shared_->import_over;
    SpinLockRelease(&shared_->mutex);
    return over;
  }

  // Commits the newest counts unless they were published already; true if it did.
  bool publish_progress() {
    SpinLockAcquire(&shared_->mutex);
    const bool total_known = shared_->total_known;
    const int32 counts[3] = {shared_->total, shared_->imported, shared_->failed};
    SpinLockRelease(&shared_->mutex);
    if (!total_known || memcmp(counts, published_, sizeof counts) == 0) return false;
    in_transaction([&] {
      Oid types[] = {UUIDOID, INT4OID, INT4OID, INT4OID};
      Datum values[] = {UUIDPGetDatum(&shared_->log_id), Int32GetDatum(counts[0]), Int32GetDatum(counts[1]),
                        Int32GetDatum(counts[2])};
      spi_run(psprintf("UPDATE %s.import_logs SET status = 'processing', total_features = $2,"
                       " imported_count = $3, failed_count = $4"
                       " WHERE id OPERATOR(pg_catalog.=) $1 AND status IN ('started', 'processing')",
                       shared_->schema),
              4, types, values);
    });
    memcpy(published_, counts, sizeof counts);
    return true;
  }

  void settle() {
    char reason[kReasonSize];
    SpinLockAcquire(&shared_->mutex);
    memcpy(reason, shared_->reason, sizeof reason);
    SpinLockRelease(&shared_->mutex);
    in_transaction([&] {
      Oid types[] = {UUIDOID, TEXTOID};
      Datum values[] = {UUIDPGetDatum(&shared_->log_id), CStringGetTextDatum(reason)};
      const char nulls[] = {' ', reason[0] == '\0' ? 'n' : ' '};
      spi_run(psprintf("SELECT %s.geo_import_settle($1, $2)", shared_->schema), 2, types, values, nulls);
    });
  }

  ProgressShared* shared_;
  int32 published_[3] = {-1, -1, -1};
};

}  // namespace

}  // namespace geo_import::pg

extern "C" void geo_import_progress_worker_main(Datum argument) {
  using geo_import::pg::ProgressShared;
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  CurrentResourceOwner = ResourceOwnerCreate(nullptr, "geo_import progress");
  dsm_segment* segment = dsm_attach(DatumGetUInt32(argument));
  if (segment == nullptr) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("geo_import progress: the import's shared memory is gone")));
  }
  dsm_pin_mapping(segment);
  auto* shared = static_cast<ProgressShared*>(dsm_segment_address(segment));
  shared->worker_latch = MyLatch;
  BackgroundWorkerInitializeConnectionByOid(shared->database, shared->owner, 0);
  pgstat_report_appname("geo_import progress");
  geo_import::pg::ProgressWorker(shared).run();
}
