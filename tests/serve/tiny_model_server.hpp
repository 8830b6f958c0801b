// The set-up the end-to-end server tests share: a server over DIR/data that renders with the
// tiny random-weight bundle, its signing identity under DIR/config.
#pragma once
#include <cstdlib>
#include <filesystem>

#include "kinema/serve.hpp"
#include "serve_renderer.hpp"
#include "tiny_bundle.hpp"

namespace kinema::serve::test {

struct TinyModelServer {
  cli::ServeRenderOptions render;
  ServeOptions options;
};

inline TinyModelServer tiny_model_server(const std::filesystem::path& dir) {
  ::setenv("KINEMA_CONFIG_DIR", (dir / "config").c_str(), 1);
  TinyModelServer t;
  t.render.model_dir = tiny_bundle().string();
  t.render.no_frame_review = true;  // random weights: see test_serve_pipeline.cpp
  t.options.data_dir = (dir / "data").string();
  t.options.model = cli::serve_model_info(t.render.model_dir);
  return t;
}

}  // namespace kinema::serve::test
