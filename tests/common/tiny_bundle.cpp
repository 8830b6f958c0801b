#include "tiny_bundle.hpp"

#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

#include "kinema/pipeline.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

fs::path tiny_bundle() {
  static fs::path dir;
  if (!dir.empty()) return dir;
  dir = test::process_temp_dir("kinema_bundle");
  const std::string tok = read_file(std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model");
  TextEncoderConfig tc;
  tc.vocab_size = 2048, tc.dim = 32, tc.dim_attn = 32, tc.ffn_dim = 64, tc.num_heads = 2, tc.num_layers = 1;
  VaeConfig vc;
  vc.dim = 8, vc.z_dim = 4, vc.dim_mult = {1, 1, 2, 2}, vc.num_res_blocks = 1;
  DiTConfig dc;
  dc.dim = 32, dc.num_heads = 2, dc.num_layers = 1, dc.ffn_dim = 64, dc.freq_dim = 32, dc.text_dim = 32;
  dc.in_dim = 12, dc.out_dim = 4;
  ModelManifest m;
  m.name = "tiny-test", m.sizes = {{32, 32}, {48, 32}}, m.frames = 5, m.steps = 3, m.cfg = 3.f;
  write_model_bundle(dir.string(), m, tok, TextEncoder::init_random(tc, 1).to_tensors(),
                     VAE::init_random(vc, 2, VaeInit::random).to_tensors(),
                     DiT::init_random(dc, 3, DiTInit::random).to_tensors());
  return dir;
}

}  // namespace kinema
