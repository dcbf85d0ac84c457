#include "core/import_pipeline.hpp"

namespace geo_import::core {

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
    : reader_(data, length, cancel_requested), cancel_requested_(cancel_requested) {}

void ImportPipeline::start(const PipelineOptions& options) {
  options_ = options;
  validator_ = std::make_unique<GeometryValidator>(cancel_requested_);
}

bool ImportPipeline::next_batch(Batch& batch) {
  batch.clear();
  const std::size_t batch_start = last_offset_;
  while (batch.features.size() < options_.batch_features && last_offset_ - batch_start < options_.batch_bytes) {
    if (!reader_.next(feature_)) break;
    last_offset_ = feature_.byte_offset;
    add(feature_, batch);
    if (cancel_requested_ != nullptr && cancel_requested_()) break;
  }
  return !batch.features.empty();
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
