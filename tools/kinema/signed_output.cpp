#include "signed_output.hpp"

#include "kinema/pipeline.hpp"
#include "kinema/watermark.hpp"

namespace kinema::cli {

SignedOutput::SignedOutput(SignedOutputOptions options) : o_(std::move(options)) {
  VideoWriterOptions wo;
  wo.width = o_.width, wo.height = o_.height, wo.fps = o_.fps;
  wo.provenance = &o_.provenance;
  writer_ = std::make_unique<VideoWriter>(o_.path, wo);
}

void SignedOutput::write(Frame frame) {
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
  writer_->close();
  const std::string preview = o_.preview.empty() ? o_.path + ".preview.png" : o_.preview;
  if (preview == "none" || written_ < 2) return "";
  write_image(preview, contact_sheet(sheet_), &o_.provenance);
  return preview;
}

}  // namespace kinema::cli
