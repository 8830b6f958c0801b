// A model bundle for tests: the real tokenizer and tiny random-weight models (x8 space, x4 time
// VAE with z 4; text encoder width 32; DiT dim 32 with frame-conditioning channels), trained
// sizes 32x32 and 48x32, 5 frames, 3 steps. Written once per process under the temp directory.
#pragma once
#include <filesystem>

namespace kinema {

std::filesystem::path tiny_bundle();

}  // namespace kinema
