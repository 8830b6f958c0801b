#include "signed_output.hpp"

#include <cstdio>
#include <filesystem>

#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/watermark.hpp"

namespace kinema::cli {

SignedOutput::SignedOutput(SignedOutputOptions options) : o_(std::move(options)) {
  if (o_.frames.enabled) classifier_ = std::make_unique<FrameClassifier>(FrameClassifier::load_default());
  VideoWriterOptions wo;
  wo.width = o_.width, wo.height = o_.height, wo.fps = o_.fps;
  wo.provenance = &o_.provenance;
  writer_ = std::make_unique<VideoWriter>(o_.path, wo);
}

void SignedOutput::review(const Frame& frame) {
  const FramePolicy& f = o_.frames;
  if (!classifier_ || written_ % std::max(1, f.review_stride) != 0) return;
  const auto p = classifier_->classify(RgbImage{frame.width, frame.height, frame.rgb.data()});
  const float explicit_p = p[int(NsfwClass::porn)] + p[int(NsfwClass::hentai)];
  const float sexy = p[int(NsfwClass::sexy)];
  if (explicit_p < f.explicit_threshold && sexy < f.suggestive_threshold) return;
  writer_.reset();  // closes what was written so far; then it is removed
  std::error_code ec;
  std::filesystem::remove(o_.path, ec);
  std::filesystem::remove(sidecar_path(o_.path), ec);
  refuse("refused by frame review", "frame ", written_, " was classified ",
         explicit_p >= f.explicit_threshold ? "sexually explicit" : "sexually suggestive", " (P(porn)+P(hentai) ",
         explicit_p, ", P(sexy) ", sexy, "; limits ", f.explicit_threshold, " and ", f.suggestive_threshold,
         "); nothing was written (docs/safety-frames.md)");
}

PromptPolicy load_prompt_policy(const std::string& policy_file) {
  return policy_file.empty() ? PromptPolicy::load_default() : PromptPolicy::from_file(policy_file);
}

FramePolicy frame_policy(const PromptPolicy& policy, bool no_frame_review) {
  FramePolicy f = policy.config().frames;
  if (no_frame_review) f.enabled = false;
  return f;
}

void SignedOutput::write(Frame frame) {
  check(writer_ != nullptr, "write", "the output was refused or closed");
  review(frame);
  std::vector<Frame> one{std::move(frame)};
  WatermarkKey key;
  key.operator_key = watermark_operator_key(o_.watermark_key);
  embed_watermark(one, key);
  writer_->write(one[0]);
  // Keep frame i when it is the next of 8 evenly spread over expected_frames (first and last included).
  const int n = std::max(1, o_.expected_frames - 1);
  if (sheet_.size() < 8 && written_ * 7 >= int(sheet_.size()) * n) sheet_.push_back(std::move(one[0]));
  ++written_;
}

std::string SignedOutput::close() {
  check(writer_ != nullptr, "write", "the output was refused");
  writer_->close();
  const std::string preview = o_.preview.empty() ? o_.path + ".preview.png" : o_.preview;
  if (preview == "none" || written_ < 2) return "";
  write_image(preview, contact_sheet(sheet_), &o_.provenance);
  return preview;
}

}  // namespace kinema::cli
