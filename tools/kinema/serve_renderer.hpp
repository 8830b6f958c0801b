// The model behind `kinema serve`'s queue: a Renderer that makes each job exactly as
// `kinema generate` makes a file. The prompt policy first (a refusal fails the job with the rule
// that decided), then the pipeline (image-to-video for an input_reference, SDEdit from the
// source video for a remix, chunks for long clips), then SignedOutput: frame review, watermark,
// C2PA-signed MP4, the signed contact sheet (the API's spritesheet) and a signed thumbnail.
#pragma once
#include <memory>
#include <string>

#include "kinema/serve.hpp"

namespace kinema::cli {

struct ServeRenderOptions {
  std::string model_dir;
  std::string policy_file;       // operator prompt/frame policy ("" = the built-in one)
  std::string watermark_key;
  bool no_frame_review = false;  // operators only, as `kinema generate --no-frame-review`
  bool record_prompt = false;    // write prompts into the C2PA credentials
  float remix_strength = 0.6f;   // SDEdit strength of a remix
};

// Reads DIR/model.json: name, trained sizes, fps and default clip length.
serve::ModelInfo serve_model_info(const std::string& model_dir);

// A factory for the server: each worker loads its own copy of the model on its first job.
serve::RendererFactory pipeline_renderer_factory(const ServeRenderOptions& options);

}  // namespace kinema::cli
