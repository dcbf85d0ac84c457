// Turns a GeoJSON document into batches of features ready to insert:
// read, validate (and repair), EWKB. No database here; the database side
// inserts each batch and reports progress between batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/geojson_reader.hpp"
#include "core/geometry_validation.hpp"

namespace geo_import::core {

struct PipelineOptions {
  InvalidPolicy on_invalid = InvalidPolicy::Repair;
  int32_t srid = 4326;                // written into each EWKB
  std::size_t batch_features = 5000;  // a batch ends at this many features...
  std::size_t batch_bytes = 8 << 20;  // ...or after this much input
  // Read and produce batches ahead on threads of the pipeline's own, so that
  // reading and GEOS overlap each other and the caller's work on the
  // previous batch. Off: next_batch does the work itself. The batches are
  // the same either way.
  bool background = true;
};

// A span of a Batch buffer.
struct Span {
  uint32_t offset = 0;
  uint32_t length = 0;
};

struct BatchFeature {
  enum class Outcome : uint8_t { Imported, Repaired, Failed };
  std::size_t index = 0;
  Outcome outcome = Outcome::Imported;
  bool has_id = false;
  bool has_geometry = false;
  bool has_properties = false;
  Span id;                  // in Batch::text
  Span reason;              // in Batch::text: why repaired or failed
  std::size_t first_token;  // properties in Batch::tokens ...
  std::size_t token_count;
  uint32_t token_text_base;  // ... whose text offsets count from here in Batch::text
  std::size_t ewkb_offset;   // in Batch::ewkb
  std::size_t ewkb_length;
};

// The features of one batch, in flat buffers reused from batch to batch.
struct Batch {
  std::vector<BatchFeature> features;
  std::vector<PropertyToken> tokens;
  std::string text;
  std::vector<uint8_t> ewkb;

  void clear();
  std::string_view view(Span span) const { return std::string_view(text).substr(span.offset, span.length); }
  // A feature the database could not store after all (e.g. not reprojectable).
  void mark_failed(std::size_t position, std::string_view reason);
};

// With `background` on, start() runs a producer thread that reads,
// validates and writes batches while the caller works on the previous one,
// at most two batches ahead (one ready, one being filled). Once a batch has
// taken GEOS (anything but points), the producer starts a reader thread
// that reads the next batches while it validates, at most two batches ahead
// of it in turn. A batch of large geometries (GEOS's work outweighing the
// rest) is validated by the producer and a helper thread side by side, each
// taking the largest geometry left, and the helper goes on to the next batch
// read while the producer finishes its own (one country can take GEOS
// longer than all the others of its batch); each batch is then put
// together in the file's order. Buffers are swapped between the threads,
// never copied. The threads never receive signals (they start with all of
// them blocked) and only ever run the core: reader, GEOS, EWKB. Whoever reads polls the cancel
// check once a feature, as the serial pipeline does. Whatever a thread
// throws is rethrown by next_batch after the batches that came before, so
// the caller sees exactly what the serial pipeline would show it.
//
// GEOS polls the cancel check only between some steps of a repair (seconds
// apart on a polygon whose edges all cross). So that a cancel still ends the
// import at once, next_batch polls the caller's check itself while it waits,
// and stop() leaves a producer that is inside GEOS to finish on its own: it
// touches nothing of the document (the features were copied out of it),
// only state it shares with the pipeline, and it ends there. So is a helper
// inside GEOS, which only ever reads the copies. Threads left so are joined
// by wait_for_abandoned(), which start() calls. A reader thread, which reads
// the document, is always joined by stop().
class ImportPipeline {
 public:
  // `data` as for GeoJsonReader, read by the pipeline's threads until stop();
  // `cancel_requested` is polled while reading, between features and inside
  // GEOS, from those threads too. The document is scanned here, on the
  // caller's thread.
  ImportPipeline(const char* data, std::size_t length, CancelCheck cancel_requested = nullptr);
  ~ImportPipeline();  // stop()
  ImportPipeline(const ImportPipeline&) = delete;
  ImportPipeline& operator=(const ImportPipeline&) = delete;

  DocumentKind kind() const;
  std::size_t feature_count() const;
  std::optional<int32_t> crs_srid() const;

  // Must be called once, before the first batch. Waits for the threads
  // earlier pipelines left inside GEOS (see wait_for_abandoned).
  void start(const PipelineOptions& options);

  // Fills `batch` with the next features; false when none are left. Throws
  // what reading or validating threw (Interrupted once the cancel check
  // returns true, also while it waits for the producer), and Interrupted
  // after stop().
  bool next_batch(Batch& batch);

  // Stops the threads: waits for the reader, and for the producer and the
  // helper unless they are inside GEOS, where they are left to finish on
  // their own (the document may be freed as soon as this returns). No batch follows. Idempotent; the
  // destructor calls it.
  void stop() noexcept;

  // Joins the threads stopped pipelines left inside GEOS, if any. A FATAL
  // error exits the process without unwinding the stack, and exit() must not
  // run while such a thread does: the database side calls stop() on a live
  // pipeline and then this, from a before_shmem_exit callback.
  static void wait_for_abandoned() noexcept;

 private:
  struct State;  // what the threads use; each holds a reference of its own

  std::shared_ptr<State> state_;
  std::thread producer_;    // joinable: the batches come from this thread
  bool abandoned_ = false;  // stop() left the producer or the helper inside GEOS
};

}  // namespace geo_import::core
