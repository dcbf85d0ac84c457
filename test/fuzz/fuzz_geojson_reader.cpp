// libFuzzer target for the core's GeoJSON reading: GeoJsonReader (top level,
// `crs`, string documents, feature scanning) and ImportPipeline (per-feature
// parsing with simdjson On-Demand, GEOS validation and repair, EWKB output)
// over arbitrary bytes. See test/fuzz/README.md for the command.
//
// The reader's contract on the bytes past the document: while the core
// declares core::kReadPadding, the caller allocates length + kReadPadding
// bytes and the reader may read, never write, the padding; without it (the
// reader reads nothing past `length`) the padding is 0. Either way the input
// is copied into a heap block of exactly length + padding bytes, so
// AddressSanitizer reports any read past what the contract allows. The
// padding is filled with spaces (as the database side does) or, for every
// other input, with bytes that would end a string or a container.
//
// What counts as a finding: a crash, a sanitizer report, a timeout, an
// exception other than DocumentError (the whole document is refused: an error
// with an SQLSTATE in the database), or a broken invariant (feature count,
// indexes, spans inside their buffers).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/geojson_reader.hpp"
#include "core/import_pipeline.hpp"

// core::kReadPadding when the core declares it (qualified lookup prefers a
// declaration in the namespace itself), else this 0.
namespace geo_import::core {
namespace fuzz_fallback {
constexpr std::size_t kReadPadding = 0;
}  // namespace fuzz_fallback
using namespace fuzz_fallback;
}  // namespace geo_import::core

namespace {

using geo_import::core::Batch;
using geo_import::core::BatchFeature;
using geo_import::core::DocumentError;
using geo_import::core::ImportPipeline;
using geo_import::core::InvalidPolicy;
using geo_import::core::PipelineOptions;
using geo_import::core::Span;

void check(bool condition) {
  if (!condition) std::abort();
}

void check_span(const Batch& batch, Span span) {
  check(static_cast<std::size_t>(span.offset) + span.length <= batch.text.size());
}

void run(const char* data, std::size_t size, InvalidPolicy policy, std::size_t batch_features) {
  try {
    ImportPipeline pipeline(data, size);
    PipelineOptions options;
    options.on_invalid = policy;
    options.batch_features = batch_features;
    pipeline.start(options);
    Batch batch;
    std::size_t seen = 0;
    while (pipeline.next_batch(batch)) {
      for (const BatchFeature& feature : batch.features) {
        check(feature.index == seen);
        ++seen;
        check_span(batch, feature.id);
        check_span(batch, feature.reason);
        check(feature.first_token + feature.token_count <= batch.tokens.size());
        check(feature.token_text_base <= batch.text.size());
        check(feature.ewkb_offset + feature.ewkb_length <= batch.ewkb.size());
        if (feature.outcome == BatchFeature::Outcome::Failed) check(feature.reason.length > 0);
        // An imported feature with a geometry has its EWKB: byte order, type, SRID.
        if (feature.outcome != BatchFeature::Outcome::Failed && feature.has_geometry) {
          check(feature.ewkb_length >= 9);
        }
      }
      for (std::size_t i = 0; i < batch.features.size(); ++i) {
        const BatchFeature& feature = batch.features[i];
        for (std::size_t t = feature.first_token; t < feature.first_token + feature.token_count; ++t) {
          const auto& token = batch.tokens[t];
          check(static_cast<std::size_t>(feature.token_text_base) + token.text_offset + token.text_length <=
                batch.text.size());
        }
      }
    }
    check(seen == pipeline.feature_count());
  } catch (const DocumentError& error) {
    // The whole document is refused, with where.
    check(error.what()[0] != '\0');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  constexpr std::size_t kReadPadding = geo_import::core::kReadPadding;
  const std::size_t padded = size + kReadPadding;
  // At least one byte, so that an empty input still has a valid pointer.
  std::unique_ptr<char[]> buffer(new char[padded > 0 ? padded : 1]);
  if (size > 0) std::memcpy(buffer.get(), data, size);
  const bool hostile_padding = (size & 1) != 0;
  for (std::size_t i = 0; i < kReadPadding; ++i) {
    buffer[size + i] = hostile_padding ? "\"]}\\"[i % 4] : ' ';
  }
  // The default policy, in small batches so that features cross batch ends.
  run(buffer.get(), size, InvalidPolicy::Repair, 3);
  // Skip takes GEOS's other path (report, no MakeValid); cheap inputs only.
  if (size < 512) run(buffer.get(), size, InvalidPolicy::Skip, 5000);
  return 0;
}
