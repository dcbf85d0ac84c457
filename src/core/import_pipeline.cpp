#include "core/import_pipeline.hpp"

#include <pthread.h>
#include <signal.h>

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

ImportPipeline::ImportPipeline(const char* data, std::size_t length, CancelCheck cancel_requested)
    : cancel_requested_(cancel_requested), reader_(data, length, CancelCheck(poll_stop_or_cancel, this)) {}

ImportPipeline::~ImportPipeline() { stop(); }

bool ImportPipeline::poll_stop_or_cancel(const void* pipeline) {
  const auto* self = static_cast<const ImportPipeline*>(pipeline);
  return self->stop_requested_.load(std::memory_order_relaxed) ||
         (self->cancel_requested_ != nullptr && self->cancel_requested_());
}

void ImportPipeline::start(const PipelineOptions& options) {
  options_ = options;
  // GEOS 3.11's interrupt callback is process-wide: the validator installs it
  // here and restores the previous one in stop(), on this thread, before the
  // producer starts and after it is joined, never while it runs GEOS.
  validator_ = std::make_unique<GeometryValidator>(CancelCheck(poll_stop_or_cancel, this));
  if (!options_.background) return;
  const AllSignalsBlocked blocked;
  try {
    producer_ = std::thread(&ImportPipeline::produce, this);
  } catch (const std::system_error&) {
    // No thread to be had (a limit on processes or memory): work serially.
  }
}

bool ImportPipeline::next_batch(Batch& batch) {
  if (stop_requested_) throw Interrupted();
  if (!producer_.joinable()) return fill(batch);
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return has_ready_ || finished_; });
  if (has_ready_) {
    std::swap(batch, ready_);  // the caller's previous buffers go back to the producer
    has_ready_ = false;
    lock.unlock();
    changed_.notify_all();
    return true;
  }
  if (error_) std::rethrow_exception(error_);
  batch.clear();
  return false;
}

void ImportPipeline::stop() noexcept {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
  }
  changed_.notify_all();
  if (producer_.joinable()) producer_.join();
  validator_.reset();
}

bool ImportPipeline::fill(Batch& batch) {
  batch.clear();
  const std::size_t batch_start = last_offset_;
  while (batch.features.size() < options_.batch_features && last_offset_ - batch_start < options_.batch_bytes) {
    if (!reader_.next(feature_)) break;
    last_offset_ = feature_.byte_offset;
    add(feature_, batch);
    if (stop_or_cancel()) throw Interrupted();
  }
  return !batch.features.empty();
}

void ImportPipeline::produce() {
  Batch filling;
  std::exception_ptr error;
  try {
    while (fill(filling)) {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return !has_ready_ || stop_requested_; });
      if (stop_requested_) throw Interrupted();
      std::swap(filling, ready_);
      has_ready_ = true;
      lock.unlock();
      changed_.notify_all();
    }
  } catch (...) {
    error = std::current_exception();
  }
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
    error_ = error;
  }
  changed_.notify_all();
}

Span ImportPipeline::append_text(Batch& batch, std::string_view text) {
  Span span{static_cast<uint32_t>(batch.text.size()), static_cast<uint32_t>(text.size())};
  batch.text.append(text);
  return span;
}

void ImportPipeline::add(Feature& feature, Batch& batch) {
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
    const Validation validation =
        validator_->validate(feature.geometry, options_.on_invalid, options_.srid, batch.ewkb);
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
