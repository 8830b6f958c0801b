// Where every generating command's frames go: frame review by the image classifier
// (docs/safety-frames.md) before anything reaches the file, the invisible watermark
// (docs/safety-watermark.md) on each frame, the streaming writer with C2PA credentials, and the
// contact-sheet preview (8 frames spread over the clip, written beside the file, signed too).
// A refused frame stops the output: the partial file is deleted and write() throws a refusal
// (ErrorKind::refused, "[refused by frame review] ..."), so blocked output never stays on disk.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kinema/c2pa.hpp"
#include "kinema/frame_review.hpp"
#include "kinema/media.hpp"
#include "kinema/safety.hpp"

namespace kinema::cli {

struct SignedOutputOptions {
  std::string path;
  std::string preview;            // "" = PATH.preview.png; "none" = no preview
  int width = 0, height = 0, fps = 12;
  int expected_frames = 1;        // to spread the preview's 8 frames over the clip
  Provenance provenance;
  std::string watermark_key;      // operator passphrase added to the project key ("" = none)
  FramePolicy frames;             // frame review: on/off, stride, thresholds (kinema/safety.hpp)
};

// The frame review of a command: the operator policy's "frames" section (the file the prompt
// policy came from, read once), switched off by --no-frame-review.
FramePolicy frame_policy(const PromptPolicy& policy, bool no_frame_review);
// The operator policy file, or the built-in policy when the path is empty.
PromptPolicy load_prompt_policy(const std::string& policy_file);

class SignedOutput {
 public:
  explicit SignedOutput(SignedOutputOptions options);
  void write(Frame frame);  // watermarks, encodes and (maybe) keeps it for the preview
  // Finishes and signs the file, then writes the preview. Returns the preview path ("" if none).
  std::string close();
  int frames_written() const { return written_; }

 private:
  void review(const Frame& frame);
  SignedOutputOptions o_;
  std::unique_ptr<FrameClassifier> classifier_;
  std::unique_ptr<VideoWriter> writer_;
  std::vector<Frame> sheet_;
  int written_ = 0;
};

}  // namespace kinema::cli
