#include "core/import_pipeline.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <utility>

namespace geo_import::core {

namespace {

// Blocks every signal in the calling thread while it lives, so that a thread
// started meanwhile inherits a full mask: the database's signal handlers must
// keep running on the database's own thread.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous_);
  }
  ~AllSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  AllSignalsBlocked(const AllSignalsBlocked&) = delete;
  AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace

void Batch::clear() {
  features.clear();
  tokens.clear();
  text.clear();
  ewkb.clear();
}

void Batch::mark_failed(std::size_t position, std::string_view reason) {
  BatchFeature& feature = features[position];
  feature.outcome = BatchFeature::Outcome::Failed;
  feature.reason = Span{static_cast<uint32_t>(text.size()), static_cast<uint32_t>(reason.size())};
  text.append(reason);
}

namespace {

// Where a thread leaves what it made for the next stage: at most one item
// waits here. Used under the pipeline's mutex.
template <typename T>
struct HandOff {
  T ready;  // the next item, when has_ready
  bool has_ready = false;
  bool finished = false;     // the thread has handed over all it will...
  std::exception_ptr error;  // ...and this is why, if it stopped early
};

}  // namespace

struct ImportPipeline::State : std::enable_shared_from_this<ImportPipeline::State> {
  State(const char* data, std::size_t length, CancelCheck caller_check)
      : cancel_requested(caller_check), reader(data, length, CancelCheck(poll_stop_or_cancel, this)) {}

  // The check the reader and GEOS poll (a CancelCheck with this state as its
  // context): stop() was called, or the caller's check says cancel.
  static bool poll_stop_or_cancel(const void* state) {
    const auto* self = static_cast<const State*>(state);
    return self->stop_requested.load() || (self->cancel_requested != nullptr && self->cancel_requested());
  }
  bool stop_or_cancel() const { return poll_stop_or_cancel(this); }

  // What validating one feature of a two-thread batch gave, for `add`.
  struct Validated {
    bool done = false;
    Validation validation;
    std::vector<uint8_t> ewkb;
    std::exception_ptr error;  // what validating it threw (on the helper)
  };

  // The features of one batch as read, before validation. Its place in
  // memory stays while it goes from thread to thread (the hand-off moves
  // the pointer), so that the helper can validate in it.
  struct ReadBatch {
    std::vector<Feature> features;  // the first `count` are this batch's; the rest keep their buffers
    std::size_t count = 0;
    // A batch of large geometries is validated on two threads: its GEOS
    // geometries, largest first, are claimed in that order, under mutex,
    // by the producer and the helper.
    bool two_threads = false;
    std::vector<std::size_t> largest_first;
    std::size_t next_claim = 0;         // in largest_first
    std::size_t helper_validating = 0;  // claimed by the helper, not yet done
    std::vector<Validated> validated;   // per feature; `done` for those validated ahead
  };
  using ReadBatchPtr = std::unique_ptr<ReadBatch>;

  // Reads the next batch's features; false when none is left. The only
  // stage that polls the caller's check once a feature.
  bool read(ReadBatch& features);
  // Decides whether a batch just read is validated on two threads, and in
  // which order.
  void plan(ReadBatch& features) const;
  // Runs on a thread of the pipeline's: fills items with `fill` and hands
  // each over to `slot` until the end, an exception or stop().
  template <typename T, typename Fill>
  void hand_over(HandOff<T>& slot, Fill fill);
  // With `lock` held and `slot` ready or finished: moves the next item into
  // `item` (its buffers go back to the thread); false at the end, or what
  // the thread threw.
  template <typename T>
  bool take(HandOff<T>& slot, T& item, std::unique_lock<std::mutex>& lock);
  // The reader thread's work.
  void read_ahead();
  // Start the reader and the helper thread, from the producer, between
  // batches.
  void start_reader();
  void start_helper();
  // The producer's next read batch: from the reader thread, or read here.
  bool next_read(ReadBatchPtr& features);
  // The producer's share of a two-thread batch: claims and validates until
  // none is left, then claims in the next batch read until the helper's
  // claims in its own are done.
  void validate_on_two_threads(ReadBatch& features);
  // With the mutex held: `features` if it is a two-thread batch with a
  // geometry left to claim, else null; the next batch read, if any.
  static ReadBatch* with_claim(ReadBatch* features);
  ReadBatch* ready_batch();
  // The helper thread's work: validates the geometries it claims, in the
  // producer's batch or ahead of it, until the end or stop().
  void help();
  // Reads and validates the next batch into `batch`; false when no feature is left.
  bool fill(Batch& batch);
  // The producer thread's work.
  void produce();
  void add(Feature& feature, Batch& batch, Validated& validated);
  Validation validate_geometry(Geometry& geometry, std::vector<uint8_t>& ewkb);
  Span append_text(Batch& batch, std::string_view text);

  // Declared before reader, whose constructor polls them.
  CancelCheck cancel_requested;
  std::atomic<bool> stop_requested{false};
  // Set while the producer, or the helper, runs GEOS; with stop_requested,
  // the handshake that lets stop() leave it there (see validate_geometry,
  // help and stop).
  std::atomic<bool> in_geos{false};
  std::atomic<bool> helper_in_geos{false};

  GeoJsonReader reader;
  PipelineOptions options;
  std::unique_ptr<GeosCancelHook> geos_cancel_hook;
  std::unique_ptr<GeometryValidator> validator;
  // The helper's GEOS context: only with a producer thread.
  std::unique_ptr<GeometryValidator> helper_validator;
  ReadBatchPtr read_features = std::make_unique<ReadBatch>();  // the producer's batch
  std::size_t last_offset = 0;
  // The producer reads itself until a batch takes GEOS; then it starts a
  // reader thread, so that reading overlaps validating. On points reading
  // is the producer's main work, and a thread of its own would only share
  // the cores with the caller's inserts. The helper starts with the first
  // batch of large geometries.
  bool geos_seen = false;        // a feature went through GEOS
  bool separate_reader = false;  // reader_thread reads ahead of the producer (the producer's to read and set)
  bool helper_started = false;   // the producer's to read and set
  std::thread reader_thread;     // started under mutex unless stop_requested; joined by stop()
  std::thread helper_thread;     // the same; joined by stop() unless inside GEOS

  // The hand-offs, reader thread to producer and producer to next_batch,
  // and the two-thread batch the producer validates, under mutex.
  std::mutex mutex;
  std::condition_variable changed;
  HandOff<ReadBatchPtr> read_batches;
  HandOff<Batch> batches;
  ReadBatch* validating = nullptr;
};

namespace {

// The threads stopped pipelines left inside GEOS (start() joins them before
// a new producer starts). Pointers: a std::thread still joinable when
// static objects are destroyed would terminate the process.
std::mutex abandoned_mutex;
std::vector<std::thread*> abandoned_threads;

// How often next_batch looks at the caller's cancel check while it waits.
constexpr std::chrono::milliseconds kCancelPollInterval{10};

// A batch whose GEOS geometries average this many positions is validated on
// two threads. Below it, GEOS is not the larger part of a feature's cost
// (polygons-100k: 9 positions), and the cores are busy reading and
// inserting anyway.
constexpr std::size_t kPositionsForTwoThreads = 64;

std::size_t positions_in(const Geometry& geometry) {
  std::size_t positions = geometry.position_count();
  for (const Geometry& member : geometry.members) positions += positions_in(member);
  return positions;
}

bool takes_geos(const Feature& feature) {
  return feature.error.empty() && feature.has_geometry && needs_geos(feature.geometry);
}

void abandon(std::thread& thread) {
  const std::lock_guard<std::mutex> lock(abandoned_mutex);
  abandoned_threads.push_back(new std::thread(std::move(thread)));
}

}  // namespace

ImportPipeline::ImportPipeline(const char* data, std::size_t length, CancelCheck cancel_requested)
    : state_(std::make_shared<State>(data, length, cancel_requested)) {}

ImportPipeline::~ImportPipeline() { stop(); }

DocumentKind ImportPipeline::kind() const { return state_->reader.kind(); }
std::size_t ImportPipeline::feature_count() const { return state_->reader.feature_count(); }
std::optional<int32_t> ImportPipeline::crs_srid() const { return state_->reader.crs_srid(); }

void ImportPipeline::start(const PipelineOptions& options) {
  wait_for_abandoned();
  state_->options = options;
  // GEOS 3.11's interrupt callback is process-wide: the hook installs it
  // here and restores the previous one when it is destroyed, after the
  // threads are done; abandoned threads are joined above before a new hook
  // is installed.
  const CancelCheck check(State::poll_stop_or_cancel, state_.get());
  state_->geos_cancel_hook = std::make_unique<GeosCancelHook>(check);
  state_->validator = std::make_unique<GeometryValidator>(check);
  if (!options.background) return;
  // Made before the producer starts, which may start the helper at once.
  state_->helper_validator = std::make_unique<GeometryValidator>(check);
  const AllSignalsBlocked blocked;
  try {
    producer_ = std::thread([state = state_] { state->produce(); });
  } catch (const std::system_error&) {
    // No thread to be had (a limit on processes or memory): work serially.
    state_->helper_validator.reset();
  }
}

bool ImportPipeline::next_batch(Batch& batch) {
  State& state = *state_;
  if (state.stop_requested) throw Interrupted();
  if (!producer_.joinable()) return state.fill(batch);
  std::unique_lock<std::mutex> lock(state.mutex);
  while (!state.changed.wait_for(lock, kCancelPollInterval,
                                 [&] { return state.batches.has_ready || state.batches.finished; })) {
    if (state.cancel_requested != nullptr && state.cancel_requested()) throw Interrupted();
  }
  if (state.take(state.batches, batch, lock)) return true;
  batch.clear();
  return false;
}

void ImportPipeline::stop() noexcept {
  if (abandoned_) return;  // the threads left behind own what they still use
  State& state = *state_;
  {
    const std::lock_guard<std::mutex> lock(state.mutex);
    state.stop_requested = true;
  }
  state.changed.notify_all();
  // The reader reads the document, which may be freed once this returns. No
  // reader or helper starts once stop_requested is set.
  std::thread reader;
  std::thread helper;
  {
    const std::lock_guard<std::mutex> lock(state.mutex);
    reader = std::move(state.reader_thread);
    helper = std::move(state.helper_thread);
  }
  if (reader.joinable()) reader.join();
  // stop_requested is set before in_geos is read, and the producer (the
  // helper) clears in_geos before it reads stop_requested (all sequentially
  // consistent): a thread seen inside GEOS stops right after it, without
  // reading on; the helper reads only copies anyway.
  if (helper.joinable()) {
    if (state.helper_in_geos) {
      abandon(helper);
      abandoned_ = true;
    } else {
      helper.join();
    }
  }
  if (producer_.joinable()) {
    if (state.in_geos) {
      abandon(producer_);
      abandoned_ = true;
    } else {
      producer_.join();
    }
  }
  if (abandoned_) return;  // the state, and GEOS's, goes with the last thread
  state.validator.reset();
  state.helper_validator.reset();
  state.geos_cancel_hook.reset();
}

void ImportPipeline::wait_for_abandoned() noexcept {
  std::vector<std::thread*> threads;
  {
    const std::lock_guard<std::mutex> lock(abandoned_mutex);
    std::swap(threads, abandoned_threads);
  }
  for (std::thread* thread : threads) {
    thread->join();
    delete thread;
  }
}

bool ImportPipeline::State::read(ReadBatch& features) {
  features.count = 0;
  const std::size_t batch_start = last_offset;
  while (features.count < options.batch_features && last_offset - batch_start < options.batch_bytes) {
    if (features.count == features.features.size()) features.features.emplace_back();
    Feature& feature = features.features[features.count];
    if (!reader.next(feature)) break;
    ++features.count;
    last_offset = feature.byte_offset;
    if (stop_or_cancel()) throw Interrupted();
  }
  plan(features);
  return features.count > 0;
}

void ImportPipeline::State::plan(ReadBatch& features) const {
  features.largest_first.clear();
  features.next_claim = 0;
  features.helper_validating = 0;
  if (features.validated.size() < features.count) features.validated.resize(features.count);
  std::size_t positions = 0;
  for (std::size_t i = 0; i < features.count; ++i) {
    Validated& validated = features.validated[i];
    validated.done = false;
    validated.error = nullptr;
    if (!takes_geos(features.features[i])) continue;
    features.largest_first.push_back(i);
    positions += positions_in(features.features[i].geometry);
  }
  const std::size_t geometries = features.largest_first.size();
  // Only with a producer thread, which starts the helper.
  features.two_threads =
      helper_validator != nullptr && geometries >= 2 && positions >= kPositionsForTwoThreads * geometries;
  if (!features.two_threads) return;
  std::vector<std::size_t> size(features.count);
  for (const std::size_t i : features.largest_first) size[i] = positions_in(features.features[i].geometry);
  std::stable_sort(features.largest_first.begin(), features.largest_first.end(),
                   [&](std::size_t a, std::size_t b) { return size[a] > size[b]; });
}

template <typename T, typename Fill>
void ImportPipeline::State::hand_over(HandOff<T>& slot, Fill fill) {
  T filling;
  std::exception_ptr caught;
  try {
    while (fill(filling)) {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return !slot.has_ready || stop_requested; });
      if (stop_requested) throw Interrupted();
      std::swap(filling, slot.ready);
      slot.has_ready = true;
      lock.unlock();
      changed.notify_all();
    }
  } catch (...) {
    caught = std::current_exception();
  }
  {
    const std::lock_guard<std::mutex> lock(mutex);
    slot.finished = true;
    slot.error = caught;
  }
  changed.notify_all();
}

template <typename T>
bool ImportPipeline::State::take(HandOff<T>& slot, T& item, std::unique_lock<std::mutex>& lock) {
  if (slot.has_ready) {
    std::swap(item, slot.ready);
    slot.has_ready = false;
    lock.unlock();
    changed.notify_all();
    return true;
  }
  if (slot.error) std::rethrow_exception(slot.error);
  return false;
}

void ImportPipeline::State::read_ahead() {
  hand_over(read_batches, [this](ReadBatchPtr& features) {
    if (features == nullptr) features = std::make_unique<ReadBatch>();
    return read(*features);
  });
}

void ImportPipeline::State::start_reader() {
  const std::lock_guard<std::mutex> lock(mutex);
  if (stop_requested) return;
  // The producer runs with every signal blocked, and so will this thread.
  try {
    reader_thread = std::thread([this] { read_ahead(); });
    separate_reader = true;
  } catch (const std::system_error&) {
    geos_seen = false;  // the producer goes on reading itself; it may try again
  }
}

void ImportPipeline::State::start_helper() {
  const std::lock_guard<std::mutex> lock(mutex);
  helper_started = true;  // once: without a thread, the producer validates alone
  if (stop_requested) return;
  try {
    // Abandoned inside GEOS, it keeps the state alive until it is done.
    helper_thread = std::thread([self = shared_from_this()] { self->help(); });
  } catch (const std::system_error&) {
  }
}

bool ImportPipeline::State::next_read(ReadBatchPtr& features) {
  if (!separate_reader) return read(*features);
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [this] { return read_batches.has_ready || read_batches.finished || stop_requested; });
  if (stop_requested) throw Interrupted();
  return take(read_batches, features, lock);
}

void ImportPipeline::State::validate_on_two_threads(ReadBatch& features) {
  std::unique_lock<std::mutex> lock(mutex);
  validating = &features;
  changed.notify_all();
  try {
    // Its own batch first; then, while the helper finishes its claims here
    // (it may hold the largest), the next batch read.
    for (;;) {
      ReadBatch* claimed = with_claim(&features);
      if (claimed == nullptr && features.helper_validating > 0) claimed = with_claim(ready_batch());
      if (claimed == nullptr) {
        if (features.helper_validating == 0 || stop_requested) break;
        changed.wait(lock);
        continue;
      }
      const std::size_t i = claimed->largest_first[claimed->next_claim++];
      lock.unlock();
      Validated& result = claimed->validated[i];
      result.ewkb.clear();
      result.validation = validate_geometry(claimed->features[i].geometry, result.ewkb);
      result.done = true;
      lock.lock();
    }
  } catch (...) {
    if (!lock.owns_lock()) lock.lock();
    validating = nullptr;
    throw;
  }
  validating = nullptr;
  if (stop_requested) throw Interrupted();
}

ImportPipeline::State::ReadBatch* ImportPipeline::State::with_claim(ReadBatch* features) {
  if (features == nullptr || !features->two_threads) return nullptr;
  return features->next_claim < features->largest_first.size() ? features : nullptr;
}

ImportPipeline::State::ReadBatch* ImportPipeline::State::ready_batch() {
  return read_batches.has_ready ? read_batches.ready.get() : nullptr;
}

void ImportPipeline::State::help() {
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    ReadBatch* features = nullptr;
    changed.wait(lock, [&] {
      if (stop_requested || batches.finished) return true;
      features = with_claim(validating);
      if (features == nullptr) features = with_claim(ready_batch());
      return features != nullptr;
    });
    if (features == nullptr) return;
    const std::size_t i = features->largest_first[features->next_claim++];
    ++features->helper_validating;
    lock.unlock();
    Validated& result = features->validated[i];
    result.ewkb.clear();
    helper_in_geos = true;
    try {
      // Set before stop_requested is read: see stop().
      if (stop_requested) throw Interrupted();
      result.validation =
          helper_validator->validate(features->features[i].geometry, options.on_invalid, options.srid, result.ewkb);
    } catch (...) {
      result.error = std::current_exception();
    }
    helper_in_geos = false;
    result.done = true;
    lock.lock();
    --features->helper_validating;
    changed.notify_all();
  }
}

bool ImportPipeline::State::fill(Batch& batch) {
  if (!next_read(read_features)) return false;
  ReadBatch& features = *read_features;
  if (features.two_threads) {
    if (!helper_started) start_helper();
    validate_on_two_threads(features);
  }
  batch.clear();
  for (std::size_t i = 0; i < features.count; ++i) {
    add(features.features[i], batch, features.validated[i]);
    if (stop_requested) throw Interrupted();
  }
  return true;
}

void ImportPipeline::State::produce() {
  hand_over(batches, [this](Batch& batch) {
    if (!fill(batch)) return false;
    if (geos_seen && !separate_reader) start_reader();
    return true;
  });
}

Validation ImportPipeline::State::validate_geometry(Geometry& geometry, std::vector<uint8_t>& ewkb) {
  in_geos = true;
  Validation validation;
  try {
    validation = validator->validate(geometry, options.on_invalid, options.srid, ewkb);
  } catch (...) {
    in_geos = false;
    throw;
  }
  in_geos = false;
  // Abandoned by stop() while in GEOS: the document may be gone, read no more.
  if (stop_requested) throw Interrupted();
  return validation;
}

Span ImportPipeline::State::append_text(Batch& batch, std::string_view text) {
  Span span{static_cast<uint32_t>(batch.text.size()), static_cast<uint32_t>(text.size())};
  batch.text.append(text);
  return span;
}

void ImportPipeline::State::add(Feature& feature, Batch& batch, Validated& validated) {
  BatchFeature out;
  out.index = feature.index;
  out.has_id = feature.has_id;
  out.id = append_text(batch, feature.id);
  out.has_geometry = feature.has_geometry;
  out.has_properties = !feature.properties.tokens.empty();
  out.first_token = batch.tokens.size();
  out.token_count = feature.properties.tokens.size();
  out.ewkb_offset = batch.ewkb.size();

  std::string reason;
  for (const std::string& note : feature.notes) reason += (reason.empty() ? "" : "; ") + note;
  if (!feature.error.empty()) {
    out.outcome = BatchFeature::Outcome::Failed;
    reason = feature.error;
  } else if (feature.has_geometry) {
    geos_seen = geos_seen || needs_geos(feature.geometry);
    Validation validation;
    if (validated.error) std::rethrow_exception(validated.error);
    if (validated.done) {
      validation = std::move(validated.validation);
      batch.ewkb.insert(batch.ewkb.end(), validated.ewkb.begin(), validated.ewkb.end());
    } else {
      validation = validate_geometry(feature.geometry, batch.ewkb);
    }
    if (validation.outcome == Validation::Outcome::Invalid) {
      out.outcome = BatchFeature::Outcome::Failed;
      reason = validation.reason;
    } else if (validation.outcome == Validation::Outcome::Repaired) {
      out.outcome = BatchFeature::Outcome::Repaired;
      reason += (reason.empty() ? "" : "; ") + validation.reason;
    }
  }
  if (out.outcome == BatchFeature::Outcome::Imported && !reason.empty()) out.outcome = BatchFeature::Outcome::Repaired;
  out.ewkb_length = batch.ewkb.size() - out.ewkb_offset;
  out.reason = append_text(batch, reason);
  out.token_text_base = static_cast<uint32_t>(batch.text.size());
  batch.text.append(feature.properties.text);
  batch.tokens.insert(batch.tokens.end(), feature.properties.tokens.begin(), feature.properties.tokens.end());
  batch.features.push_back(out);
}

}  // namespace geo_import::core
