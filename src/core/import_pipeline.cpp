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

struct ImportPipeline::State {
  State(const char* data, std::size_t length, CancelCheck caller_check)
      : cancel_requested(caller_check), reader(data, length, CancelCheck(poll_stop_or_cancel, this)) {}

  // The check the reader and GEOS poll (a CancelCheck with this state as its
  // context): stop() was called, or the caller's check says cancel.
  static bool poll_stop_or_cancel(const void* state) {
    const auto* self = static_cast<const State*>(state);
    return self->stop_requested.load() || (self->cancel_requested != nullptr && self->cancel_requested());
  }
  bool stop_or_cancel() const { return poll_stop_or_cancel(this); }

  // The features of one batch as read, before validation.
  struct ReadBatch {
    std::vector<Feature> features;  // the first `count` are this batch's; the rest keep their buffers
    std::size_t count = 0;
  };

  // Reads the next batch's features; false when none is left. The only
  // stage that polls the caller's check once a feature.
  bool read(ReadBatch& features);
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
  // Starts the reader thread, from the producer, between batches.
  void start_reader();
  // The producer's next read batch: from the reader thread, or read here.
  bool next_read(ReadBatch& features);
  // Validates the read batch into `batch`.
  void validate(ReadBatch& features, Batch& batch);
  // Whether the batch's geometries are large enough to be validated on two
  // threads (see validate_on_two_threads).
  bool worth_two_threads(const ReadBatch& features) const;
  // Validates the batch's geometries that take GEOS into `validated`, the
  // producer and a helper thread each taking the largest one left.
  void validate_on_two_threads(ReadBatch& features);
  // One thread's share of validate_on_two_threads.
  void validate_taken(ReadBatch& features, GeometryValidator& with);
  // Reads and validates the next batch into `batch`; false when no feature is left.
  bool fill(Batch& batch);
  // The producer thread's work.
  void produce();
  // A validation done ahead by validate_on_two_threads, for `add`.
  struct Validated {
    bool done = false;
    Validation validation;
    std::vector<uint8_t> ewkb;
  };
  void add(Feature& feature, Batch& batch, Validated& validated);
  Validation validate_geometry(Geometry& geometry, std::vector<uint8_t>& ewkb);
  Span append_text(Batch& batch, std::string_view text);

  // Declared before reader, whose constructor polls them.
  CancelCheck cancel_requested;
  std::atomic<bool> stop_requested{false};
  // Set while the producer runs GEOS; with stop_requested, the handshake
  // that lets stop() leave it there (see validate_geometry and stop).
  std::atomic<bool> in_geos{false};

  GeoJsonReader reader;
  PipelineOptions options;
  std::unique_ptr<GeosCancelHook> geos_cancel_hook;
  std::unique_ptr<GeometryValidator> validator;
  // The helper thread's GEOS context, in the background only.
  std::unique_ptr<GeometryValidator> helper_validator;
  std::vector<Validated> validated;       // per feature of the batch being validated
  std::vector<std::size_t> largest_first;  // its GEOS geometries, for validate_on_two_threads
  std::atomic<std::size_t> next_largest{0};
  ReadBatch read_features;  // filled by whoever reads for the producer stage
  std::size_t last_offset = 0;
  // The producer reads itself until a batch takes GEOS; then it starts a
  // reader thread, so that reading overlaps validating. On points reading
  // is the producer's main work, and a thread of its own would only share
  // the cores with the caller's inserts.
  bool geos_seen = false;        // a feature went through GEOS
  bool separate_reader = false;  // reader_thread reads ahead of the producer (the producer's to read and set)
  std::thread reader_thread;     // started under mutex unless stop_requested; joined by stop()

  // The hand-offs, reader thread to producer and producer to next_batch,
  // under mutex.
  std::mutex mutex;
  std::condition_variable changed;
  HandOff<ReadBatch> read_batches;
  HandOff<Batch> batches;
};

namespace {

// The producer a stopped pipeline left inside GEOS (at most one: start()
// joins it before a new producer starts). A pointer: a std::thread still
// joinable when static objects are destroyed would terminate the process.
std::mutex abandoned_mutex;
std::thread* abandoned_producer = nullptr;

// How often next_batch looks at the caller's cancel check while it waits.
constexpr std::chrono::milliseconds kCancelPollInterval{10};

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
  // producer is done; an abandoned producer is joined above before a new
  // hook is installed.
  const CancelCheck check(State::poll_stop_or_cancel, state_.get());
  state_->geos_cancel_hook = std::make_unique<GeosCancelHook>(check);
  state_->validator = std::make_unique<GeometryValidator>(check);
  if (!options.background) return;
  state_->helper_validator = std::make_unique<GeometryValidator>(check);
  const AllSignalsBlocked blocked;
  try {
    producer_ = std::thread([state = state_] { state->produce(); });
  } catch (const std::system_error&) {
    // No thread to be had (a limit on processes or memory): work serially.
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
  if (abandoned_) return;  // the producer owns what it still uses
  State& state = *state_;
  {
    const std::lock_guard<std::mutex> lock(state.mutex);
    state.stop_requested = true;
  }
  state.changed.notify_all();
  // The reader reads the document, which may be freed once this returns. No
  // reader starts once stop_requested is set.
  std::thread reader;
  {
    const std::lock_guard<std::mutex> lock(state.mutex);
    reader = std::move(state.reader_thread);
  }
  if (reader.joinable()) reader.join();
  if (producer_.joinable()) {
    // stop_requested is set before in_geos is read, and the producer clears
    // in_geos before it reads stop_requested (both sequentially consistent):
    // a producer seen inside GEOS stops right after it, without reading on.
    if (state.in_geos) {
      wait_for_abandoned();
      const std::lock_guard<std::mutex> lock(abandoned_mutex);
      abandoned_producer = new std::thread(std::move(producer_));
      abandoned_ = true;
      return;
    }
    producer_.join();
  }
  state.validator.reset();
  state.helper_validator.reset();
  state.geos_cancel_hook.reset();
}

void ImportPipeline::wait_for_abandoned() noexcept {
  std::thread* producer = nullptr;
  {
    const std::lock_guard<std::mutex> lock(abandoned_mutex);
    std::swap(producer, abandoned_producer);
  }
  if (producer == nullptr) return;
  producer->join();
  delete producer;
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
  return features.count > 0;
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
  hand_over(read_batches, [this](ReadBatch& features) { return read(features); });
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

bool ImportPipeline::State::next_read(ReadBatch& features) {
  if (!separate_reader) return read(features);
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [this] { return read_batches.has_ready || read_batches.finished || stop_requested; });
  if (stop_requested) throw Interrupted();
  return take(read_batches, features, lock);
}

namespace {

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

}  // namespace

void ImportPipeline::State::validate(ReadBatch& features, Batch& batch) {
  batch.clear();
  if (validated.size() < features.count) validated.resize(features.count);
  for (std::size_t i = 0; i < features.count; ++i) validated[i].done = false;
  if (helper_validator != nullptr && worth_two_threads(features)) validate_on_two_threads(features);
  for (std::size_t i = 0; i < features.count; ++i) {
    add(features.features[i], batch, validated[i]);
    if (stop_requested) throw Interrupted();
  }
}

bool ImportPipeline::State::worth_two_threads(const ReadBatch& features) const {
  std::size_t geometries = 0;
  std::size_t positions = 0;
  for (std::size_t i = 0; i < features.count; ++i) {
    if (!takes_geos(features.features[i])) continue;
    ++geometries;
    positions += positions_in(features.features[i].geometry);
  }
  return geometries >= 2 && positions >= kPositionsForTwoThreads * geometries;
}

void ImportPipeline::State::validate_on_two_threads(ReadBatch& features) {
  largest_first.clear();
  std::vector<std::size_t> sizes(features.count);
  for (std::size_t i = 0; i < features.count; ++i) {
    if (!takes_geos(features.features[i])) continue;
    largest_first.push_back(i);
    sizes[i] = positions_in(features.features[i].geometry);
  }
  std::stable_sort(largest_first.begin(), largest_first.end(),
                   [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
  next_largest = 0;
  // Both threads are "inside GEOS" until the helper is joined: stop() may
  // leave the producer here, and the producer then joins the helper before
  // it ends. Neither reads the document: the features are copies.
  in_geos = true;
  std::exception_ptr helper_error;
  std::thread helper;
  try {
    helper = std::thread([&] {
      try {
        validate_taken(features, *helper_validator);
      } catch (...) {
        helper_error = std::current_exception();
      }
    });
  } catch (const std::system_error&) {
    // No thread to be had: the producer validates them all.
  }
  std::exception_ptr own_error;
  try {
    validate_taken(features, *validator);
  } catch (...) {
    own_error = std::current_exception();
  }
  if (helper.joinable()) helper.join();
  in_geos = false;
  if (stop_requested) throw Interrupted();
  if (own_error) std::rethrow_exception(own_error);
  if (helper_error) std::rethrow_exception(helper_error);
}

void ImportPipeline::State::validate_taken(ReadBatch& features, GeometryValidator& with) {
  try {
    for (std::size_t taken = next_largest++; taken < largest_first.size(); taken = next_largest++) {
      if (stop_requested) throw Interrupted();
      Feature& feature = features.features[largest_first[taken]];
      Validated& result = validated[largest_first[taken]];
      result.ewkb.clear();
      result.validation = with.validate(feature.geometry, options.on_invalid, options.srid, result.ewkb);
      result.done = true;
    }
  } catch (...) {
    next_largest = largest_first.size();  // the other thread takes no more
    throw;
  }
}

bool ImportPipeline::State::fill(Batch& batch) {
  if (!next_read(read_features)) return false;
  validate(read_features, batch);
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
