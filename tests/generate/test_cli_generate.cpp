// `kinema generate` end to end on a tiny random bundle: signed outputs, one-frame PNGs, a
// preview sheet, and errors that say what to do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#include "temp_dir.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"
#include "kinema/watermark.hpp"
#include "commands.hpp"
#include "signed_output.hpp"
#include <cmath>

namespace fs = std::filesystem;

namespace kinema {
fs::path tiny_bundle();  // test_pipeline.cpp
namespace cli {
int cmd_generate(int argc, char** argv);
int cmd_model(int argc, char** argv);
}
namespace {

fs::path out_dir() {
  fs::path d = test::process_temp_dir("kinema_cli_gen");
  ::setenv("KINEMA_CONFIG_DIR", (d / "config").c_str(), 1);  // the local signing identity
  return d;
}

int generate(std::vector<std::string> args) {
  args.insert(args.begin(), "generate");
  args.push_back("--model");
  args.push_back(tiny_bundle().string());
  args.push_back("--quiet");
  // The tiny bundle's random weights make noise frames, which nsfwjs can score as explicit;
  // SignedOutput's own tests cover frame review.
  args.push_back("--no-frame-review");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_generate(int(argv.size()), argv.data());
}

std::string error_of(std::vector<std::string> args) {
  try {
    generate(std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(CliGenerate, WritesASignedVideoAndAPreviewSheet) {
  const fs::path d = out_dir(), mp4 = d / "clip.mp4";
  ASSERT_EQ(generate({"a red circle moves right", "-o", mp4.string(), "--steps", "2", "--seed", "3"}), 0);
  std::vector<Frame> frames = read_video(mp4.string());
  EXPECT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[0].width, 32);
  EXPECT_EQ(verify_file(mp4.string()).status, CredentialStatus::valid);
  ASSERT_TRUE(fs::exists(mp4.string() + ".preview.png"));
  EXPECT_EQ(read_video(mp4.string() + ".preview.png")[0].width, 5 * 32 + 4 * 2);
}

// --trace: one row per step of the sampler's x0 estimate; with Euler the last step's estimate
// is the sampled latent, so the bottom row is the clip's own contact sheet.
TEST(CliGenerate, TraceDrawsEachStepsEstimateEndingOnTheClip) {
  const fs::path d = out_dir(), mp4 = d / "traced.mp4", trace = d / "trace.png";
  ASSERT_EQ(generate({"a red circle moves right", "-o", mp4.string(), "--steps", "4", "--seed", "3", "--sampler",
                      "euler", "--trace", trace.string()}), 0);
  // The same request through the library: its frames before the file's watermark.
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.steps = 4, r.seed = 3, r.sampler = "euler";
  const Frame clip = contact_sheet(Pipeline::load(tiny_bundle().string()).generate(r).frames, 8);
  const Frame sheet = read_video(trace.string())[0];
  ASSERT_EQ(sheet.width, clip.width);
  ASSERT_EQ(sheet.height, 4 * clip.height + 3 * 2);  // 4 steps, 2 pixels apart
  const size_t last = size_t(3 * (clip.height + 2)) * size_t(clip.width) * 3;
  EXPECT_TRUE(std::equal(clip.rgb.begin(), clip.rgb.end(), sheet.rgb.begin() + std::ptrdiff_t(last)));
  EXPECT_FALSE(std::equal(clip.rgb.begin(), clip.rgb.end(), sheet.rgb.begin()));  // step 1: not yet
  EXPECT_NE(error_of({"a cat", "-o", (d / "t.mp4").string(), "--trace", (d / "t.mp4").string()}).find(".png"),
            std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", (d / "t.mp4").string(), "--trace", trace.string(), "--trace-every", "-2"})
                .find("--trace-every"), std::string::npos);
}

TEST(CliGenerate, EveryGeneratedVideoCarriesTheInvisibleWatermark) {
  const fs::path d = out_dir(), mp4 = d / "marked.mp4", keyed = d / "keyed.mp4";
  ASSERT_EQ(generate({"a red circle moves right", "-o", mp4.string(), "--steps", "1", "--size", "128x128",
                      "--frames", "9", "--preview", "none"}), 0);
  // Pixels only: what is left after the credentials are stripped.
  WatermarkResult r = detect_watermark(read_video(mp4.string()), WatermarkKey{});
  EXPECT_TRUE(r.detected) << "p " << r.p_value;
  ASSERT_EQ(generate({"a red circle moves right", "-o", keyed.string(), "--steps", "1", "--size", "128x128",
                      "--frames", "9", "--preview", "none", "--watermark-key", "studio secret"}), 0);
  WatermarkKey studio;
  studio.operator_key = watermark_operator_key("studio secret");
  EXPECT_TRUE(detect_watermark(read_video(keyed.string()), studio).detected);
  EXPECT_FALSE(detect_watermark(read_video(keyed.string()), WatermarkKey{}).detected);
}

TEST(SignedOutput, ARefusedFrameLeavesNoFileAndSaysWhy) {
  const fs::path d = out_dir(), mp4 = d / "frame-refused.mp4";
  cli::SignedOutputOptions o;
  o.path = mp4.string(), o.width = 64, o.height = 64, o.fps = 12, o.expected_frames = 9;
  o.frames.explicit_threshold = 0.f;  // every frame counts as explicit: exercises the refusal path
  cli::SignedOutput out(o);
  Frame f{64, 64, std::vector<uint8_t>(64 * 64 * 3, 90)};
  try {
    out.write(f);
    FAIL() << "the frame was not refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("refused by frame review"), std::string::npos) << e.what();
    EXPECT_EQ(e.kind(), ErrorKind::refused);
  }
  EXPECT_FALSE(fs::exists(mp4));
  EXPECT_THROW(out.close(), Error);
  EXPECT_FALSE(fs::exists(mp4.string() + ".preview.png"));
}

// The operator's policy file sets frame review's limits; a refused frame exits 5 like a refused
// prompt and leaves no file.
TEST(CliGenerate, PolicyFileSetsFrameReviewAndARefusedFrameExitsFive) {
  const fs::path d = out_dir(), strict = d / "strict.json", off = d / "off.json", out = d / "frames.mp4";
  std::ofstream(strict) << R"({"frames": {"explicit_threshold": 0.001, "suggestive_threshold": 0.001, "review_stride": 1}})";
  std::ofstream(off) << R"({"frames": {"enabled": false}})";
  auto run = [&](const fs::path& policy) {
    std::vector<std::string> args = {"generate", "a red circle moves right", "-o", out.string(), "--model",
                                     tiny_bundle().string(), "--quiet", "--steps", "1", "--frames", "5",
                                     "--preview", "none", "--policy", policy.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return cli::run_command(cli::Command{"generate", "", cli::cmd_generate}, int(argv.size()), argv.data());
  };
  EXPECT_EQ(run(strict), cli::kRefusedExit);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(run(off), 0);
  EXPECT_TRUE(fs::exists(out));
  const FramePolicy f = cli::frame_policy(cli::load_prompt_policy(strict.string()), false);
  EXPECT_TRUE(f.enabled);
  EXPECT_DOUBLE_EQ(f.explicit_threshold, 0.001);
  EXPECT_EQ(f.review_stride, 1);
  EXPECT_FALSE(cli::frame_policy(cli::load_prompt_policy(strict.string()), true).enabled);  // --no-frame-review
  EXPECT_TRUE(cli::frame_policy(cli::load_prompt_policy(""), false).enabled);               // defaults
}

TEST(SignedOutput, OrdinaryFramesPassFrameReview) {
  const fs::path d = out_dir(), mp4 = d / "fine.mp4";
  cli::SignedOutputOptions o;
  o.path = mp4.string(), o.width = 64, o.height = 64, o.fps = 12, o.expected_frames = 5, o.frames.review_stride = 1;
  cli::SignedOutput out(o);
  for (int i = 0; i < 5; ++i) out.write(Frame{64, 64, std::vector<uint8_t>(64 * 64 * 3, uint8_t(40 * i))});
  out.close();
  EXPECT_EQ(read_video(mp4.string()).size(), 5u);
}

TEST(CliGenerate, APngOutputIsTextToImage) {
  const fs::path d = out_dir(), png = d / "image.png";
  ASSERT_EQ(generate({"a blue square", "-o", png.string(), "--steps", "1", "--size", "48x32"}), 0);
  std::vector<Frame> frames = read_video(png.string());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].width, 48);
  EXPECT_EQ(verify_file(png.string()).status, CredentialStatus::valid);
  EXPECT_FALSE(fs::exists(png.string() + ".preview.png"));
}

TEST(CliGenerate, ErrorsSayWhatToDo) {
  const fs::path d = out_dir();
  const std::string out = (d / "x.mp4").string();
  EXPECT_NE(error_of({"-o", out}).find("give a prompt"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--sampler", "ddim"}).find("dpm++"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--size", "50x30"}).find("48x32"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--size", "big"}).find("WxH"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", (d / "x.png").string(), "--frames", "5"}).find("one frame"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", (d / "x.avi").string()}).find("avi"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--steps", "many"}).find("--steps"), std::string::npos);
}

int model_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "model");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_model(int(argv.size()), argv.data());
}

TEST(CliModel, PackedBf16BundleLoadsChecksAndGeneratesCloseToF32) {
  const fs::path d = out_dir(), packed = d / "bf16", src = tiny_bundle();
  ASSERT_EQ(model_cli({"pack", "--out", packed.string(), "--dit", (src / "dit.safetensors").string(), "--vae",
                       (src / "vae.safetensors").string(), "--text-encoder", (src / "text_encoder.safetensors").string(),
                       "--tokenizer", (src / "tokenizer.model").string(), "--dtype", "bf16", "--sizes", "32x32",
                       "--frames", "5", "--steps", "3", "--cfg", "3", "--plan-guidance", "1"}),
            0);
  EXPECT_LT(fs::file_size(packed / "dit.safetensors"), fs::file_size(src / "dit.safetensors"));
  EXPECT_TRUE(Pipeline::load(packed.string()).manifest().plan_guidance);
  EXPECT_EQ(model_cli({"check", packed.string()}), 0);
  Pipeline f32 = Pipeline::load(src.string()), bf16 = Pipeline::load(packed.string());
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.seed = 4;
  GenerateResult a = f32.generate(r), b = bf16.generate(r);
  double diff = 0;
  for (size_t i = 0; i < a.frames[2].rgb.size(); ++i) diff += std::abs(a.frames[2].rgb[i] - b.frames[2].rgb[i]);
  diff /= double(a.frames[2].rgb.size());
  std::printf("  mean |f32 - bf16| pixel difference: %.3f of 255\n", diff);
  EXPECT_LT(diff, 8.0);  // bf16 matrices: close to the f32 model, not equal
  EXPECT_THROW(model_cli({"pack", "--out", packed.string()}), Error);
  EXPECT_THROW(model_cli({"pack", "--out", packed.string(), "--plan-guidance", "yes"}), Error);
  // cast: a compact copy whose matrices are bf16 and which loads back as the same VAE.
  const fs::path vae16 = d / "vae-bf16.safetensors";
  ASSERT_EQ(model_cli({"cast", (src / "vae.safetensors").string(), vae16.string(), "--dtype", "bf16"}), 0);
  EXPECT_LT(fs::file_size(vae16), fs::file_size(src / "vae.safetensors"));
  EXPECT_EQ(VAE::from_tensors(load_tensors(vae16.string())).config().z_dim, 4);
  EXPECT_THROW(model_cli({"cast", (src / "vae.safetensors").string(), vae16.string(), "--dtype", "q9"}), Error);
}

TEST(CliModel, WordsReportsEveryGroupAndUsageWithoutADirectory) {
  EXPECT_EQ(model_cli({"words", tiny_bundle().string()}), 0);
  EXPECT_EQ(model_cli({"words", "--help"}), 0);
  EXPECT_EQ(model_cli({"words"}), 2);
  EXPECT_THROW(model_cli({"words", (out_dir() / "missing").string()}), Error);
}

// A DiT checkpoint trained with its text encoder (kinema train dit) packs without --text-encoder
// and gives the same bundle as packing the two files apart.
std::string file_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(CliModel, PacksADiTThatCarriesItsTextEncoder) {
  const fs::path d = out_dir(), src = tiny_bundle(), joint = d / "joint.safetensors";
  const TensorFile text = load_tensors((src / "text_encoder.safetensors").string());
  save_tensors(joint.string(), join_text_encoder(load_tensors((src / "dit.safetensors").string()), text));
  const std::vector<std::string> common = {"--vae", (src / "vae.safetensors").string(), "--tokenizer",
                                           (src / "tokenizer.model").string(), "--sizes", "32x32"};
  auto pack = [&](const fs::path& out, const fs::path& dit, bool with_text) {
    std::vector<std::string> a = {"pack", "--out", out.string(), "--dit", dit.string()};
    if (with_text) a.insert(a.end(), {"--text-encoder", (src / "text_encoder.safetensors").string()});
    a.insert(a.end(), common.begin(), common.end());
    return model_cli(a);
  };
  ASSERT_EQ(pack(d / "a", joint, false), 0);
  ASSERT_EQ(pack(d / "b", src / "dit.safetensors", true), 0);
  for (const char* f : {"dit.safetensors", "text_encoder.safetensors"})
    EXPECT_EQ(file_bytes(d / "a" / f), file_bytes(d / "b" / f)) << f;
  EXPECT_THROW(pack(d / "c", joint, true), Error);                    // two text encoders
  EXPECT_THROW(pack(d / "c", src / "dit.safetensors", false), Error);  // none
}

TEST(CliGenerate, ARefusedPromptWritesNothingAndExitsFive) {
  const fs::path d = out_dir(), out = d / "refused.mp4";
  EXPECT_EQ(generate({"a n@ked woman, explicit sex scene", "-o", out.string()}), 5);
  EXPECT_FALSE(fs::exists(out));
  // An ordinary negative prompt is not a request for what it names.
  EXPECT_EQ(generate({"a red circle", "-o", out.string(), "--steps", "1", "--negative", "blood, gore"}), 0);
}

}  // namespace
}  // namespace kinema
