// A directory laid out as Wan2.1's T2V releases are, built small: config.json, the DiT under
// ComfyUI-style key names in diffusion_pytorch_model.safetensors, Wan2.1_VAE.pth and
// models_t5_umt5-xxl-enc-bf16.pth written by PyTorch's own torch.save, and a sentencepiece
// tokenizer at google/umt5-xxl/spiece.model. Pipeline::load recognises it and generates.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "tiny_bundle.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

// torch.save of a safetensors file's tensors (f32), by Debian's PyTorch.
void save_as_pth(const fs::path& safetensors, const fs::path& pth) {
  const std::string script =
      "import json,struct,sys,torch\n"
      "d=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',d[:8])[0]; h=json.loads(d[8:8+n])\n"
      "sd={k:torch.frombuffer(bytearray(d[8+n+v['data_offsets'][0]:8+n+v['data_offsets'][1]]),dtype=torch.float32)"
      ".reshape(v['shape']).clone() for k,v in h.items() if k!='__metadata__'}\n"
      "torch.save(sd,sys.argv[2])\n";
  const fs::path py = pth.string() + ".py";
  std::ofstream(py) << script;
  const std::string cmd = std::string(KINEMA_PYTHON) + " " + py.string() + " " + safetensors.string() + " " + pth.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  fs::remove(py);
}

fs::path tiny_wan_dir() {
  const fs::path dir = fs::temp_directory_path() / ("kinema_wan_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "google/umt5-xxl");
  fs::copy_file(std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model", dir / "google/umt5-xxl/spiece.model");
  DiTConfig dc;
  dc.dim = 32, dc.num_heads = 2, dc.num_layers = 1, dc.ffn_dim = 64, dc.freq_dim = 32, dc.text_dim = 32;
  dc.in_dim = 4, dc.out_dim = 4;
  TensorFile dit;
  for (auto& [k, v] : DiT::init_random(dc, 3, DiTInit::random).to_tensors().tensors) dit.tensors["model.diffusion_model." + k] = v;
  save_tensors((dir / "diffusion_pytorch_model.safetensors").string(), dit);
  std::ofstream(dir / "config.json") << R"({"_class_name": "WanModel", "model_type": "t2v", "dim": 32, "num_heads": 2,
    "num_layers": 1, "ffn_dim": 64, "freq_dim": 32, "in_dim": 4, "out_dim": 4, "text_len": 16})";
  VaeConfig vc;
  vc.dim = 8, vc.z_dim = 4, vc.dim_mult = {1, 1, 2, 2}, vc.num_res_blocks = 1;
  TextEncoderConfig tc;
  tc.vocab_size = 2048, tc.dim = 32, tc.dim_attn = 32, tc.ffn_dim = 64, tc.num_heads = 2, tc.num_layers = 1;
  const fs::path tmp = dir / "tmp.safetensors";
  TensorFile vae = VAE::init_random(vc, 2, VaeInit::random).to_tensors(), text = TextEncoder::init_random(tc, 1).to_tensors();
  vae.metadata.clear(), text.metadata.clear();  // .pth files carry no metadata
  save_tensors(tmp.string(), vae);
  save_as_pth(tmp, dir / "Wan2.1_VAE.pth");
  save_tensors(tmp.string(), text);
  save_as_pth(tmp, dir / "models_t5_umt5-xxl-enc-bf16.pth");
  fs::remove(tmp);
  return dir;
}

TEST(WanDirectory, LoadsAndGeneratesWithWansTextPath) {
  const fs::path dir = tiny_wan_dir();
  Pipeline p = Pipeline::load(dir.string());
  EXPECT_EQ(p.manifest().max_text_len, 16);
  EXPECT_TRUE(p.manifest().pad_text);
  EXPECT_FALSE(p.manifest().world_prompts);
  EXPECT_EQ(p.manifest().fps, 16);
  EXPECT_EQ(p.dit().config().dim, 32);
  GenerateRequest r;
  r.prompt = "a cat walks on the grass", r.width = 32, r.height = 32, r.frames = 5, r.steps = 2, r.seed = 1;
  GenerateResult g = p.generate(r);
  EXPECT_EQ(g.frames.size(), 5u);
  EXPECT_EQ(g.frames[0].width, 32);
  EXPECT_FALSE(g.expanded);  // Wan takes the prompt as written
  EXPECT_EQ(g.caption, r.prompt);
  fs::remove_all(dir);
}

TEST(WanDirectory, AMissingPieceIsNamed) {
  const fs::path dir = tiny_wan_dir();
  fs::remove(dir / "models_t5_umt5-xxl-enc-bf16.pth");
  try {
    Pipeline::load(dir.string());
    FAIL() << "a directory without the text encoder must not load";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("models_t5_umt5-xxl-enc-bf16.pth"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "config.json") << R"({"model_type": "i2v", "dim": 32, "num_heads": 2})";
  try {
    Pipeline::load_wan(dir.string());
    FAIL() << "an I2V directory is not generated with yet";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Wan i2v model"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema

namespace kinema {
namespace {

double psnr(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  double se = 0;
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].rgb.size(); ++j, ++n) {
      const double d = double(a[i].rgb[j]) - double(b[i].rgb[j]);
      se += d * d;
    }
  return se == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / (se / double(n)));
}

// --type: the DiT's matrices converted on load; q8_0 runs quantized (linear dequantizes on the
// fly) and stays close to the stored f32 weights' video.
TEST(PipelineLoad, ConvertsTheDiTOnLoadAndQ8StaysClose) {
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.seed = 2, r.frames = 5, r.threads = 1;
  const Pipeline f32 = Pipeline::load(tiny_bundle().string());
  const std::vector<Frame> want = f32.generate(r).frames;
  for (DType type : {DType::q8_0, DType::bf16}) {
    const Pipeline p = Pipeline::load(tiny_bundle().string(), PipelineLoadOptions{type});
    EXPECT_EQ(p.dit().weight("blocks.0.ffn.0.weight").dtype(), type);
    EXPECT_EQ(p.dit().weight("blocks.0.norm3.weight").dtype(), DType::f32);  // not a matrix
    const double db = psnr(p.generate(r).frames, want);
    std::printf("  DiT as %s: %.1f dB against f32\n", std::string(dtype_name(type)).c_str(), db);
    EXPECT_GT(db, 30.0);
  }
}

}  // namespace
}  // namespace kinema
