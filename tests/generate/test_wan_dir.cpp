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

#include "generate/internal.hpp"
#include "temp_dir.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "hf_tokenizer_json.hpp"
#include "kinema/sampler.hpp"
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

Tensor seeded_tensor(const Shape& shape, uint64_t seed, float scale) {
  std::vector<float> v(size_t(shape_numel(shape)));
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (float& f : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    f = scale * (float(x % 20001) / 10000.f - 1.f);
  }
  return Tensor::from_vector(v, shape);
}

// A tiny CLIP vision tower under Wan's checkpoint keys: 28x28 images, 14x14 patches, width 160
// (two of ViT-H's 80-wide heads: a .pth carries no head count, so it is read off the width).
TensorFile tiny_clip() {
  TensorFile f;
  uint64_t seed = 50;
  auto add = [&](const std::string& name, Shape shape, float scale, float offset = 0.f) {
    Tensor t = seeded_tensor(shape, seed++, scale);
    if (offset != 0.f) t = Tensor::from_vector([&] { auto v = t.to_vector(); for (float& x : v) x += offset; return v; }(), shape);
    f.tensors["visual." + name] = t;
  };
  const int64_t D = 160;
  add("patch_embedding.weight", {D, 3, 14, 14}, 0.05f);
  add("cls_embedding", {1, 1, D}, 0.2f), add("pos_embedding", {1, 5, D}, 0.2f);
  add("pre_norm.weight", {D}, 0.1f, 1.f), add("pre_norm.bias", {D}, 0.1f);
  for (int i = 0; i < 2; ++i) {
    const std::string b = "transformer." + std::to_string(i) + ".";
    add(b + "norm1.weight", {D}, 0.1f, 1.f), add(b + "norm1.bias", {D}, 0.1f);
    add(b + "attn.to_qkv.weight", {3 * D, D}, 0.1f), add(b + "attn.to_qkv.bias", {3 * D}, 0.1f);
    add(b + "attn.proj.weight", {D, D}, 0.1f), add(b + "attn.proj.bias", {D}, 0.1f);
    add(b + "norm2.weight", {D}, 0.1f, 1.f), add(b + "norm2.bias", {D}, 0.1f);
    add(b + "mlp.0.weight", {4 * D, D}, 0.1f), add(b + "mlp.0.bias", {4 * D}, 0.1f);
    add(b + "mlp.2.weight", {D, 4 * D}, 0.05f), add(b + "mlp.2.bias", {D}, 0.1f);
  }
  add("post_norm.weight", {D}, 0.1f, 1.f), add("post_norm.bias", {D}, 0.1f);
  return f;
}

fs::path tiny_wan_dir(const std::string& type = "t2v") {
  const fs::path dir = test::process_temp_dir("kinema_wan_" + type);
  fs::remove_all(dir);
  fs::create_directories(dir / "google/umt5-xxl");
  fs::copy_file(std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model", dir / "google/umt5-xxl/spiece.model");
  DiTConfig dc;
  dc.dim = 32, dc.num_heads = 2, dc.num_layers = 1, dc.ffn_dim = 64, dc.freq_dim = 32, dc.text_dim = 32;
  const bool image = type == "i2v" || type == "flf2v";  // Wan2.1's, with the CLIP tower
  // Wan2.2 A14B: two experts in subfolders (seeds differ unless type is "a14b-same"); "i2v-a14b"
  // is Wan2.2 I2V-A14B's: channel conditioning without CLIP.
  const bool experts = type.rfind("a14b", 0) == 0 || type == "i2v-a14b";
  dc.in_dim = image || type == "i2v-a14b" ? 12 : 4, dc.out_dim = 4;
  if (image) dc.image_dim = 160;  // the CLIP tower's width
  const std::string model_type = type == "i2v-a14b" ? "i2v" : experts ? "t2v" : type;
  auto write_dit = [&](const fs::path& d, uint64_t seed) {
    fs::create_directories(d);
    TensorFile dit;
    for (auto& [k, v] : DiT::init_random(dc, seed, DiTInit::random).to_tensors().tensors)
      dit.tensors["model.diffusion_model." + k] = v;
    save_tensors((d / "diffusion_pytorch_model.safetensors").string(), dit);
    std::ofstream(d / "config.json") << R"({"_class_name": "WanModel", "model_type": ")" << model_type
                                     << R"(", "dim": 32, "num_heads": 2, "num_layers": 1, "text_len": 16})";
  };
  if (experts) {
    write_dit(dir / "low_noise_model", 3);
    write_dit(dir / "high_noise_model", type == "a14b-same" ? 3 : 4);
  } else {
    write_dit(dir, 3);
  }
  VaeConfig vc;
  vc.dim = 8, vc.z_dim = 4, vc.dim_mult = {1, 1, 2, 2}, vc.num_res_blocks = 1;
  if (type == "ti2v") vc.layout = VaeLayout::wan22, vc.patch_size = 2, vc.dim = 4, vc.decoder_dim = 6;  // x16
  TextEncoderConfig tc;
  tc.vocab_size = 2048, tc.dim = 32, tc.dim_attn = 32, tc.ffn_dim = 64, tc.num_heads = 2, tc.num_layers = 1;
  const fs::path tmp = dir / "tmp.safetensors";
  TensorFile vae = VAE::init_random(vc, 2, VaeInit::random).to_tensors(), text = TextEncoder::init_random(tc, 1).to_tensors();
  vae.metadata.clear(), text.metadata.clear();  // .pth files carry no metadata
  save_tensors(tmp.string(), vae);
  save_as_pth(tmp, dir / (type == "ti2v" ? "Wan2.2_VAE.pth" : "Wan2.1_VAE.pth"));
  save_tensors(tmp.string(), text);
  save_as_pth(tmp, dir / "models_t5_umt5-xxl-enc-bf16.pth");
  if (image) {
    save_tensors(tmp.string(), tiny_clip());
    save_as_pth(tmp, dir / "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth");
  }
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

// Wan directories sample on Wan's own schedule (its first sigma and integer timesteps, as the
// parity tests check against Wan's loop); kinema's models on the one their trainer used.
TEST(WanDirectory, SamplesOnWansScheduleAndKinemasModelsOnTheirOwn) {
  GenerateRequest r;
  r.steps = 4, r.sampler = "unipc";
  ModelManifest wan;
  wan.wan_schedule = true;
  ScheduleOptions s = detail::sampling_schedule(wan, r, 3.0);
  EXPECT_EQ(s.sigma_max, kWanSigmaMax);
  EXPECT_EQ(s.timesteps, TimestepMode::wan_truncated);
  EXPECT_EQ(flow_schedule(s).timesteps[1], std::floor(flow_schedule(s).timesteps[1]));
  r.sampler = "dpm++";
  EXPECT_EQ(detail::sampling_schedule(wan, r, 3.0).sigma_max, 1.0);
  s = detail::sampling_schedule(ModelManifest{}, r, 3.0);
  EXPECT_EQ(s.sigma_max, 1.0);
  EXPECT_EQ(s.timesteps, TimestepMode::exact);
  EXPECT_EQ(s.steps, 4);
  EXPECT_EQ(s.shift, 3.0);
  EXPECT_TRUE(Pipeline::load(tiny_wan_dir().string()).manifest().wan_schedule);
}

// umT5's tokenizer may come as Hugging Face's tokenizer.json instead of spiece.model.
TEST(WanDirectory, TakesTheTokenizerAsTokenizerJson) {
  const fs::path dir = tiny_wan_dir("t2v");
  const fs::path spm = dir / "google/umt5-xxl/spiece.model", json = dir / "google/umt5-xxl/tokenizer.json";
  std::ifstream in(spm, std::ios::binary);
  std::ofstream(json) << test::hf_json_from_sentencepiece(std::string(std::istreambuf_iterator<char>(in), {}));
  const std::vector<int32_t> want = Pipeline::load(dir.string()).tokenizer().encode("a red ball rolls left");
  fs::remove(spm);
  EXPECT_EQ(Pipeline::load(dir.string()).tokenizer().encode("a red ball rolls left"), want);
  fs::remove(json);
  EXPECT_THROW(Pipeline::load(dir.string()), Error);
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
  fs::remove_all(dir);
}

// Wan I2V: the CLIP features of the given first frame and Wan's y (the image then grey frames,
// encoded) condition the DiT; without an image it says what to give.
TEST(WanDirectory, I2VAnimatesTheGivenImage) {
  const fs::path dir = tiny_wan_dir("i2v");
  Pipeline p = Pipeline::load(dir.string());
  EXPECT_TRUE(p.manifest().keep_grey_latents);
  EXPECT_EQ(p.dit().config().image_dim, 160);
  GenerateRequest r;
  r.prompt = "the ball rolls away", r.width = 32, r.height = 32, r.frames = 5, r.steps = 2, r.seed = 1;
  try {
    p.generate(r);
    FAIL() << "Wan I2V without an image must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("give --image"), std::string::npos) << e.what();
  }
  Frame image{32, 32, std::vector<uint8_t>(32 * 32 * 3)};
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t((i * 7) % 256);
  r.known = {KnownFrame{0, image}};
  GenerateResult g = p.generate(r);
  ASSERT_EQ(g.frames.size(), 5u);
  const Tensor ctx = p.image_context(r.known, r.frames);
  EXPECT_EQ(ctx.shape(), (Shape{1, 5, 160}));  // 28x28 / 14x14 patches + the class token
  std::ofstream(dir / "config.json") << R"({"model_type": "t2v", "dim": 32, "num_heads": 2})";
  try {
    Pipeline::load_wan(dir.string());
    FAIL() << "a config that contradicts the weights must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("image cross-attention"), std::string::npos) << e.what();
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

namespace kinema {
namespace {

// Wan's CLIP preprocessing resizes with torch's bicubic interpolation; kinema's is checked
// against torch.nn.functional.interpolate itself, down (to CLIP's size) and up.
TEST(WanImage, BicubicResizeMatchesTorch) {
  const fs::path dir = fs::temp_directory_path() / ("kinema_bicubic_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Tensor x = seeded_tensor({1, 3, 20, 30}, 7, 1.f);
  {
    std::ofstream f(dir / "in.f32", std::ios::binary);
    const std::vector<float> v = x.to_vector();
    f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  }
  for (auto [h, w] : {std::pair<int64_t, int64_t>{7, 11}, {45, 50}, {20, 30}}) {
    const std::string cmd = std::string(KINEMA_PYTHON) + " -c \"import numpy as np, torch; x = torch.from_numpy(np.fromfile('" +
                            (dir / "in.f32").string() + "', dtype=np.float32).reshape(1, 3, 20, 30)); "
                            "torch.nn.functional.interpolate(x.double(), size=(" + std::to_string(h) + ", " + std::to_string(w) +
                            "), mode='bicubic', align_corners=False).float().numpy().tofile('" + (dir / "out.f32").string() + "')\"";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::vector<float> want(size_t(3 * h * w));
    std::ifstream(dir / "out.f32", std::ios::binary).read(reinterpret_cast<char*>(want.data()), std::streamsize(want.size() * 4));
    const std::vector<float> got = detail::resize_bicubic(x, h, w).to_vector();
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, double(std::abs(got[i] - want[i])));
    std::printf("  bicubic 20x30 -> %lldx%lld: worst difference %.2e\n", (long long)h, (long long)w, worst);
    EXPECT_LT(worst, 1e-5);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema

namespace kinema {
namespace {

double max_frame_difference(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].rgb.size(); ++j) worst = std::max(worst, std::abs(double(a[i].rgb[j]) - double(b[i].rgb[j])));
  return worst;
}

// Wan2.2 A14B: the high-noise expert samples while t >= 875 with its own guidance scale, then the
// low-noise expert. Two identical experts at one scale are one model; different ones are neither.
TEST(WanDirectory, A14BSwitchesExpertsAtTheBoundary) {
  GuidanceOptions g{3.f, 0.f, 4.f, 875.f};
  EXPECT_EQ(g.cfg_at(875.f), 4.f);
  EXPECT_EQ(g.cfg_at(874.9f), 3.f);
  GenerateRequest r;
  r.prompt = "a red kite", r.width = 32, r.height = 32, r.frames = 5, r.steps = 4, r.seed = 3, r.cfg = 4.f, r.shift = 3.f;
  const fs::path same = tiny_wan_dir("a14b-same"), differ = tiny_wan_dir("a14b"), one = tiny_wan_dir("t2v");
  const Pipeline a14b = Pipeline::load(same.string());
  EXPECT_EQ(a14b.manifest().boundary, 0.875f);
  EXPECT_EQ(a14b.manifest().steps, 40);
  const std::vector<Frame> single = Pipeline::load(one.string()).generate(r).frames;
  EXPECT_EQ(max_frame_difference(a14b.generate(r).frames, single), 0.0) << "identical experts are one model";
  const std::vector<Frame> mixed = Pipeline::load(differ.string()).generate(r).frames;
  EXPECT_GT(max_frame_difference(mixed, single), 0.0) << "the high-noise expert took no step";
  for (const fs::path& d : {same, differ, one}) fs::remove_all(d);
}

}  // namespace
}  // namespace kinema

namespace kinema {
namespace {

double test_max_abs(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = contiguous(a).to_vector(), y = contiguous(b).to_vector();
  double worst = x.size() == y.size() ? 0.0 : 1e30;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
  return worst;
}

Frame test_image(int width, int height) {
  Frame image{width, height, std::vector<uint8_t>(size_t(width * height * 3))};
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = uint8_t((i * 7) % 256);
  return image;
}

// Wan2.2 TI2V-5B's layout: Wan2.2_VAE.pth (x16 in space) and one DiT for text and image: a given
// first frame's latent is latent frame 0 throughout, and the rest is sampled around it.
TEST(WanDirectory, TI2VGeneratesFromTextAndFromAFirstFrame) {
  const fs::path dir = tiny_wan_dir("ti2v");
  const Pipeline p = Pipeline::load(dir.string());
  EXPECT_TRUE(p.manifest().replace_first_frame);
  EXPECT_EQ(p.manifest().fps, 24);
  EXPECT_EQ(p.manifest().frames, 121);
  EXPECT_EQ(p.manifest().sizes[0], (std::pair<int, int>{1280, 704}));
  EXPECT_EQ(p.vae().config().layout, VaeLayout::wan22);
  EXPECT_EQ(p.vae().config().spatial_compression(), 16);
  GenerateRequest r;
  r.prompt = "a paper boat drifts", r.width = 64, r.height = 32, r.frames = 5, r.steps = 2, r.seed = 4;
  r.keep_latent = true;
  const GenerateResult text = p.generate(r);
  ASSERT_EQ(text.frames.size(), 5u);
  EXPECT_EQ(text.frames[0].width, 64);
  r.known = {KnownFrame{0, test_image(64, 32)}};
  const GenerateResult image = p.generate(r);
  ASSERT_EQ(image.frames.size(), 5u);
  const Tensor first = p.encode_frames({r.known[0].frame});  // [1, 4, 1, 2, 4]
  EXPECT_EQ(test_max_abs(slice(image.latent, 2, 0, 1), first), 0.0) << "latent frame 0 is the image's";
  EXPECT_GT(test_max_abs(slice(image.latent, 2, 1, 2), slice(text.latent, 2, 1, 2)), 0.0) << "the image conditions the rest";
  r.known = {KnownFrame{4, test_image(64, 32)}};
  try {
    p.generate(r);
    FAIL() << "TI2V takes a first frame only";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("first frame only"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// Wan2.2 I2V-A14B's layout: two experts with in_dim 36-style channel conditioning and no CLIP
// file; Wan's boundary 0.900 and guidance (3.5, 3.5).
TEST(WanDirectory, I2VA14BLoadsTwoExpertsWithoutClip) {
  const fs::path dir = tiny_wan_dir("i2v-a14b");
  const Pipeline p = Pipeline::load(dir.string());
  EXPECT_EQ(p.manifest().boundary, 0.9f);
  EXPECT_EQ(p.manifest().cfg, 3.5f);
  EXPECT_EQ(p.manifest().cfg_high, 3.5f);
  EXPECT_EQ(p.manifest().steps, 40);
  EXPECT_EQ(p.manifest().shift, 5.f);
  EXPECT_TRUE(p.manifest().keep_grey_latents);
  EXPECT_EQ(p.dit().config().in_dim, 12);
  EXPECT_EQ(p.dit().config().image_dim, 0);
  GenerateRequest r;
  r.prompt = "the kite rises", r.width = 32, r.height = 32, r.frames = 5, r.steps = 2, r.seed = 1;
  try {
    p.generate(r);
    FAIL() << "Wan I2V without an image must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("give --image"), std::string::npos) << e.what();
  }
  r.known = {KnownFrame{0, test_image(32, 32)}};
  EXPECT_EQ(p.generate(r).frames.size(), 5u);
  fs::remove_all(dir);
}

// What is not a Wan2.1 or Wan2.2 release directory says what it lacks or what it is.
TEST(WanDirectory, UnknownModelTypesAndMissingVaesAreNamed) {
  const fs::path dir = tiny_wan_dir("ti2v");
  std::ofstream(dir / "config.json") << R"({"model_type": "s2v", "dim": 32, "num_heads": 2})";
  try {
    Pipeline::load(dir.string());
    FAIL() << "a Wan s2v model must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kinema runs Wan t2v, i2v, flf2v and ti2v"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "config.json") << R"({"model_type": "ti2v", "dim": 32, "num_heads": 2})";
  fs::remove(dir / "Wan2.2_VAE.pth");
  try {
    Pipeline::load_wan(dir.string());
    FAIL() << "a directory without a VAE must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no Wan2.1_VAE.pth or Wan2.2_VAE.pth"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema
