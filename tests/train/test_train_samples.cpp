// Sample videos during DiT training (kinema/train_samples.hpp, `kinema train dit --sample-every`):
// fixed training-distribution prompts (never held out), one clip per prompt and one contact
// sheet per step, the same frames for the same seed, and training bit for bit unchanged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "error_of.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train_samples.hpp"
#include "kinema/world.hpp"
#include "kinema/world_latents.hpp"

namespace kinema::cli {
int cmd_train(int argc, char** argv);
}

namespace fs = std::filesystem;

namespace kinema {
namespace {

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::load(std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model");
  return t;
}

// x8 in space and x4 in time, as the default model's VAE, so the world's sizes divide; 3 channels.
VAE tiny_vae() {
  VaeConfig c;
  c.dim = 4, c.z_dim = 3, c.num_res_blocks = 1;
  c.dim_mult = {1, 1, 1, 1};
  c.temporal_downsample = {false, true, true};
  return VAE::init_random(c, 3, VaeInit::random);
}

TextEncoder tiny_encoder() {
  TextEncoderConfig c;
  c.vocab_size = tokenizer().vocab_size();
  c.dim = 16, c.dim_attn = 16, c.ffn_dim = 32, c.num_heads = 2, c.num_layers = 1;
  return TextEncoder::init_random(c, 2);
}

DiT tiny_dit() {
  DiTConfig c;
  c.dim = 32, c.num_heads = 2, c.num_layers = 1, c.ffn_dim = 64, c.freq_dim = 32, c.text_dim = 16;
  c.out_dim = 3, c.in_dim = 3 + 4 + 3;  // frame conditioning, as world runs have by default
  return DiT::init_random(c, 4, DiTInit::random);
}

TrainSampleOptions small_samples() {
  TrainSampleOptions o;
  o.prompts = {"a blue circle moves right", "a green square"};
  o.width = 64, o.height = 64, o.frames = 5, o.steps = 2;
  return o;
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("kinema_samples_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(TrainSamples, DefaultPromptsAreFixedTrainingPromptsNeverHeldOut) {
  TrainSampleOptions o;
  const world::WorldVideoOptions data = world::WorldLatentOptions{}.video();
  o.prompts = default_sample_prompts(data, o);
  ASSERT_EQ(o.prompts.size(), 4u);
  EXPECT_EQ(default_sample_prompts(data, o), o.prompts);  // a pure function
  for (size_t i = 0; i < o.prompts.size(); ++i) {
    const world::Expansion e = world::expand(o.prompts[i], o.seed + i, {o.width, o.height, o.fps, o.frames});
    EXPECT_TRUE(e.understood) << o.prompts[i];
    EXPECT_FALSE(world::is_held_out(e.scene)) << o.prompts[i];
    for (size_t j = 0; j < i; ++j) EXPECT_NE(o.prompts[i], o.prompts[j]);
  }
  EXPECT_NO_THROW(check_sample_prompts(o));
}

TEST(TrainSamples, HeldOutPromptIsRefusedByNumberAndText) {
  TrainSampleOptions o;
  o.prompts = {"a blue circle", "a red star spinning"};  // red star: a held-out colour x shape pair
  const std::string e = test::error_of([&] { check_sample_prompts(o); });
  EXPECT_NE(e.find("prompt 2 ('a red star spinning') describes a held-out combination"), std::string::npos) << e;
}

TEST(TrainSamples, PromptFileHoldsOnePromptPerNonBlankLine) {
  const fs::path dir = temp_dir("prompts");
  std::ofstream((dir / "p.txt").string()) << "  a blue circle \n\n\t\na green square\r\n";
  EXPECT_EQ(read_sample_prompts((dir / "p.txt").string()),
            (std::vector<std::string>{"a blue circle", "a green square"}));
  std::ofstream((dir / "blank.txt").string()) << "\n  \n";
  EXPECT_NE(test::error_of([&] { read_sample_prompts((dir / "blank.txt").string()); }).find("holds no prompt"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { read_sample_prompts((dir / "none.txt").string()); })
                .find("cannot read the prompt file"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(TrainSamples, StackRowsPutsRowsTopToBottomOnWhite) {
  const Frame wide{4, 1, std::vector<uint8_t>(12, 10)}, narrow{2, 2, std::vector<uint8_t>(12, 20)};
  const Frame s = stack_rows({wide, narrow});
  EXPECT_EQ(s.width, 4);
  EXPECT_EQ(s.height, 1 + 2 + 2);
  EXPECT_EQ(s.rgb[0], 10);                        // row 0: the wide frame
  EXPECT_EQ(s.rgb[size_t(1 * 4 * 3)], 255);       // the gap
  EXPECT_EQ(s.rgb[size_t(3 * 4 * 3)], 20);        // row 3: the narrow frame, left-aligned
  EXPECT_EQ(s.rgb[size_t(3 * 4 * 3 + 3 * 3)], 255);  // right of it
}

TEST(TrainSamples, SameSeedGivesTheSameFramesAndAnotherSeedOthers) {
  const DiT dit = tiny_dit();
  const TextEncoder encoder = tiny_encoder();
  const VAE vae = tiny_vae();
  TrainSampleOptions o = small_samples();
  const Pipeline pipe = sampling_pipeline(dit.to_tensors(), &encoder, vae, tokenizer(), o);
  const auto a = sample_clips(pipe, o), b = sample_clips(pipe, o);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a[0].size(), 5u);
  EXPECT_EQ(a[0][0].width, 64);
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t f = 0; f < a[i].size(); ++f) EXPECT_EQ(a[i][f].rgb, b[i][f].rgb) << i << " " << f;
  o.seed = 7;
  EXPECT_NE(sample_clips(pipe, o)[0][0].rgb, a[0][0].rgb);
  // A DiT-only checkpoint needs the frozen encoder.
  EXPECT_NE(test::error_of([&] { sampling_pipeline(dit.to_tensors(), nullptr, vae, tokenizer(), o); })
                .find("carry no text encoder"),
            std::string::npos);
}

// ---- the command ----------------------------------------------------------------------------

int train_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"train", "dit"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_train(int(argv.size()), argv.data());
}

// The step,loss,lr,grad_norm columns (seconds differ from run to run).
std::vector<std::string> log_rows(const fs::path& p) {
  std::vector<std::string> rows;
  std::istringstream in(read_file(p));
  for (std::string line; std::getline(in, line);) rows.push_back(line.substr(0, line.rfind(',')));
  return rows;
}

std::vector<std::string> world_run(const fs::path& dir, const std::string& out) {
  return {"--data", "world", "--vae", (dir / "vae.safetensors").string(), "--text-encoder",
          (dir / "enc.safetensors").string(), "--cache", (dir / "cache").string(), "--clips", "6", "--images", "1",
          "--dim", "32", "--heads", "2", "--layers", "1", "--ffn", "64", "--batch", "2", "--steps", "2",
          "--out", (dir / out).string()};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& extra) {
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(TrainSamplesCli, SampleEveryWritesClipsAndSheetsSameSeedSameFramesTrainingUnchanged) {
  const fs::path dir = temp_dir("cli");
  save_tensors((dir / "vae.safetensors").string(), tiny_vae().to_tensors());
  save_tensors((dir / "enc.safetensors").string(), tiny_encoder().to_tensors());
  const std::vector<std::string> sampling = {"--sample-every", "1", "--sample-steps", "2", "--sample-frames", "5"};
  ASSERT_EQ(train_cli(world_run(dir, "plain")), 0);
  // Interrupted after step 1 and resumed, sampling at both steps.
  ASSERT_EQ(train_cli(with(world_run(dir, "sampled"), with(sampling, {"--stop-after", "1"}))), 0);
  ASSERT_EQ(train_cli(with(world_run(dir, "sampled"), with(sampling, {"--resume"}))), 0);
  ASSERT_EQ(train_cli(with(world_run(dir, "again"), sampling)), 0);

  // Training is bit for bit the run without samples.
  EXPECT_EQ(log_rows(dir / "plain" / "train_log.csv"), log_rows(dir / "sampled" / "train_log.csv"));
  for (const char* f : {"model.safetensors", "ema.safetensors", "optimizer.safetensors", "trainer.safetensors"})
    EXPECT_EQ(read_file(dir / "plain" / "step-00000002" / f), read_file(dir / "sampled" / "step-00000002" / f)) << f;
  EXPECT_FALSE(fs::exists(dir / "plain" / "samples"));

  // Four clips of 5 frames at 128x128 and a sheet of 5 frames x 4 prompts, at each step.
  for (const char* step : {"step-00000001", "step-00000002"}) {
    const fs::path s = dir / "sampled" / "samples" / step;
    for (const char* clip : {"00.mp4", "01.mp4", "02.mp4", "03.mp4"}) {
      const std::vector<Frame> frames = read_video((s / clip).string());
      ASSERT_EQ(frames.size(), 5u) << step << "/" << clip;
      EXPECT_EQ(frames[0].width, 128);
      EXPECT_EQ(read_video((s / clip).string())[4].rgb,
                read_video((dir / "again" / "samples" / step / clip).string())[4].rgb) << step << "/" << clip;
    }
    const Frame sheet = read_video((s / "sheet.png").string()).at(0);
    EXPECT_EQ(sheet.width, 5 * 128 + 4 * 2);
    EXPECT_EQ(sheet.height, 4 * 128 + 3 * 2);
    // The same seed gives the same frames: the uninterrupted run's sheet, byte for byte.
    EXPECT_EQ(read_file(s / "sheet.png"), read_file(dir / "again" / "samples" / step / "sheet.png")) << step;
  }
  EXPECT_EQ(log_rows(dir / "sampled" / "samples" / "prompts.txt").size(), 4u);
  fs::remove_all(dir);
}

// --sizes: the world data (and so the sample clips, drawn at its first size) render at it.
TEST(TrainSamplesCli, SizesSetTheWorldsRenderSizeAndBadListsAreRefused) {
  const fs::path dir = temp_dir("sizes");
  save_tensors((dir / "vae.safetensors").string(), tiny_vae().to_tensors());
  save_tensors((dir / "enc.safetensors").string(), tiny_encoder().to_tensors());
  ASSERT_EQ(train_cli(with(world_run(dir, "run"), {"--sizes", "64x32", "--steps", "1", "--sample-every", "1",
                                                   "--sample-steps", "1", "--sample-frames", "1"})),
            0);
  const std::vector<Frame> f = read_video((dir / "run" / "samples" / "step-00000001" / "00.mp4").string());
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(f[0].width, 64);
  EXPECT_EQ(f[0].height, 32);
  auto error = [&](const char* sizes) {
    return test::error_of([&] { train_cli(with(world_run(dir, "bad"), {"--sizes", sizes})); });
  };
  for (const char* bad : {"64", "64x", "64x32,", "0x64", "64x64x", "x64", "64x-8", "99999999999x64", " 64x64"})
    EXPECT_NE(error(bad).find("--sizes needs WxH"), std::string::npos) << bad;
  EXPECT_NE(error("65536x64").find("larger than 16384 a side"), std::string::npos);
  EXPECT_NE(error("60x60").find("not a multiple of the VAE's spatial compression"), std::string::npos);
  fs::remove_all(dir);
}

TEST(TrainSamplesCli, FlagErrorsNameTheFlag) {
  const fs::path dir = temp_dir("flags");
  auto error = [](std::vector<std::string> args) { return test::error_of([&] { train_cli(std::move(args)); }); };
  const std::string out = (dir / "run").string();
  EXPECT_NE(error({"--steps", "1", "--out", out, "--sample-every", "1"}).find("--sample-every needs --data world"),
            std::string::npos);
  EXPECT_NE(error({"--steps", "1", "--out", out, "--sample-every", "-1"}).find("--sample-every must be >= 0"),
            std::string::npos);
  save_tensors((dir / "vae.safetensors").string(), tiny_vae().to_tensors());
  save_tensors((dir / "enc.safetensors").string(), tiny_encoder().to_tensors());
  EXPECT_NE(error(with(world_run(dir, "run"), {"--sample-every", "1", "--sample-frames", "4"}))
                .find("--sample-frames must be 1 + 4k"),
            std::string::npos);
  EXPECT_NE(error(with(world_run(dir, "run"), {"--sample-every", "1", "--sample-prompts", (dir / "no.txt").string()}))
                .find("cannot read the prompt file"),
            std::string::npos);
  for (std::vector<std::string> bad : {std::vector<std::string>{"--blur", "1.5"}, {"--blur-from", "0"},
                                       {"--blur-sigma-min", "3", "--blur-sigma-max", "1"}})
    EXPECT_NE(error(with({"--steps", "1", "--out", out}, bad)).find("outline-blind inputs need --blur in [0, 1]"),
              std::string::npos)
        << bad[0];
  EXPECT_NE(error({"--steps", "1", "--out", out, "--shape-labels", "1"}).find("--shape-labels needs --data world"),
            std::string::npos);
  EXPECT_NE(error({"--steps", "1", "--out", out, "--shape-labels", "-1"}).find("--shape-labels must be a weight >= 0"),
            std::string::npos);
  EXPECT_NE(error(with(world_run(dir, "run"), {"--shape-labels", "0.5", "--label-block", "99"}))
                .find("--label-block must name one of the DiT's blocks"),
            std::string::npos);
  EXPECT_NE(error({"--steps", "1", "--out", out, "--compute", "f16"}).find("--compute needs f32|bf16|auto; got 'f16'"),
            std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema
