// Training a VAE's decoder alone on its frozen encoder (Stable Diffusion's ft-MSE decoder): the
// encoder, and so the latent space a DiT was trained on, stays bit for bit; a wider decoder is
// saved and loaded with its width inferred; resume is exact; bad combinations say what to do.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/vae_train.hpp"
#include "kinema/world_video.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace cli {
int cmd_train(int argc, char** argv);
}
namespace {

VaeConfig tiny_vae() {
  VaeConfig c;
  c.dim = 8, c.z_dim = 4, c.dim_mult = {1, 2, 2}, c.num_res_blocks = 1, c.temporal_downsample = {false, true};
  c.latents_mean = {0.1f, -0.2f, 0.3f, 0.f}, c.latents_std = {1.f, 2.f, 0.5f, 1.5f};
  return c;  // x4 space, x2 time
}

// Every tensor random (gammas and attention projections too), so every one has a gradient.
TensorFile tiny_file(uint64_t seed = 3) { return VAE::init_random(tiny_vae(), seed, VaeInit::random).to_tensors(); }

VAE trainable(const TensorFile& f) { return VAE::from_tensors(f, VaeLoadOptions{true}); }

world::WorldVideoOptions tiny_clips() {
  world::WorldVideoOptions o;
  o.count = 32, o.frames = 5, o.crop = 16, o.image_fraction = 0.25, o.seed = 7;
  return o;
}

VaeTrainerOptions decoder_options(int64_t steps) {
  VaeTrainerOptions o;
  o.batch_size = 2, o.seed = 5, o.ema_decay = 0.9f;
  o.lr = LrSchedule{3e-3f, 1, steps, 0.1f};
  o.adamw.weight_decay = 0.f;
  o.trained = VaeTrainedPart::decoder;
  return o;
}

std::map<std::string, std::vector<float>> values(const VAE& m) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [key, w] : m.weights()) out[key] = w.to_vector();
  return out;
}

// A 5-frame clip [1, 3, 5, 16, 16] from the world.
Tensor world_clip() {
  world::WorldVideoOptions o = tiny_clips();
  o.image_fraction = 0;
  Tensor x = world::WorldVideoDataset(o).get(1);
  return reshape(x, {1, 3, 5, 16, 16});
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("kinema_vae_decoder_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void expect_same_encoding(const VAE& a, const VAE& b, const std::string& what) {
  NoGradGuard no_grad;
  const Tensor x = world_clip();
  VaeLatent la = a.encode(x), lb = b.encode(x);
  EXPECT_EQ(la.mu.to_vector(), lb.mu.to_vector()) << what;
  EXPECT_EQ(la.logvar.to_vector(), lb.logvar.to_vector()) << what;
  EXPECT_EQ(a.config().latents_mean, b.config().latents_mean) << what;
  EXPECT_EQ(a.config().latents_std, b.config().latents_std) << what;
}

TEST(VaeDecoderTraining, StepsLeaveEveryEncoderTensorBitIdenticalAndChangeTheDecoder) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  world::WorldVideoDataset data(tiny_clips());
  VAE model = trainable(tiny_file());
  auto before = values(model);
  VaeTrainer trainer(model, data, decoder_options(3));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(std::isfinite(trainer.step().loss));
  int encoder = 0, decoder = 0;
  for (const auto& [key, v] : values(model)) {
    if (is_vae_decoder_key(key)) {
      EXPECT_NE(v, before[key]) << key;
      ++decoder;
    } else {
      EXPECT_EQ(v, before[key]) << key;
      EXPECT_FALSE(model.weight(key).grad().defined()) << key << " got a gradient";
      ++encoder;
    }
  }
  EXPECT_GT(encoder, 20);
  EXPECT_GT(decoder, 20);
  // The EMA averages the decoder only; its encoder is the frozen one.
  const TensorFile ema = trainer.ema_tensors();
  for (const auto& [key, v] : before) {
    if (!is_vae_decoder_key(key)) {
      EXPECT_EQ(ema.tensors.at(key).to_vector(), v) << key;
    }
  }
}

TEST(VaeDecoderTraining, TheSavedFilesEncodeExactlyAsTheInitDoes) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  world::WorldVideoDataset data(tiny_clips());
  const TensorFile init = tiny_file();
  VAE model = trainable(init);
  VaeTrainer trainer(model, data, decoder_options(2));
  for (int i = 0; i < 2; ++i) trainer.step();
  TempDir dir("files");
  const std::string ck = trainer.save(dir.path.string());
  const VAE reference = VAE::from_tensors(init);
  for (const char* f : {"model.safetensors", "ema.safetensors"})
    expect_same_encoding(reference, VAE::from_tensors(load_tensors(ck + "/" + f)), f);
}

TEST(VaeDecoderTraining, AWiderDecoderIsSavedAndLoadedWithItsWidthInferred) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  const TensorFile init = tiny_file();
  EXPECT_EQ(VAE::from_tensors(vae_with_new_decoder(init, 8, 1)).config().decoder_dim, 0);  // dim 8: Wan2.1's
  const TensorFile wide = vae_with_new_decoder(init, 12, 1);
  EXPECT_EQ(wide.tensors.at("decoder.conv1.weight").shape(), (Shape{24, 4, 3, 3, 3}));  // 12 x mult 2
  for (const auto& [key, t] : init.tensors) {
    if (!is_vae_decoder_key(key)) {
      EXPECT_EQ(wide.tensors.at(key).to_vector(), t.to_vector()) << key;
    }
  }

  world::WorldVideoDataset data(tiny_clips());
  VAE model = trainable(wide);
  VaeTrainer trainer(model, data, decoder_options(1));
  trainer.step();
  TempDir dir("wide");
  const VAE back = VAE::from_tensors(load_tensors(trainer.save(dir.path.string()) + "/ema.safetensors"));
  EXPECT_EQ(back.config().dim, 8);
  EXPECT_EQ(back.config().decoder_dim, 12);
  expect_same_encoding(VAE::from_tensors(init), back, "wide");
  NoGradGuard no_grad;
  EXPECT_EQ(back.decode(Tensor::zeros({1, 4, 3, 4, 4})).shape(), (Shape{1, 3, 5, 16, 16}));
}

TEST(VaeDecoderTraining, ResumeGivesTheSameLossesAndWeightsBitForBit) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  world::WorldVideoDataset data(tiny_clips());
  const TensorFile init = tiny_file();
  TempDir dir("resume");
  std::vector<float> straight, resumed;
  VAE a = trainable(vae_with_new_decoder(init, 12, 1));
  {
    VaeTrainer t(a, data, decoder_options(4));
    for (int i = 0; i < 4; ++i) straight.push_back(t.step().loss);
  }
  {
    VAE b = trainable(vae_with_new_decoder(init, 12, 1));
    VaeTrainer t(b, data, decoder_options(4));
    for (int i = 0; i < 2; ++i) resumed.push_back(t.step().loss);
    t.save(dir.path.string());
  }
  VAE c = trainable(vae_with_new_decoder(init, 12, 99));  // another decoder: it must come from the file
  VaeTrainer t(c, data, decoder_options(4));
  t.load(dir.path.string());
  EXPECT_EQ(t.steps_done(), 2);
  for (int i = 0; i < 2; ++i) resumed.push_back(t.step().loss);
  EXPECT_EQ(straight, resumed);
  EXPECT_EQ(values(a), values(c));
}

TEST(VaeDecoderTraining, LoadRefusesAnotherEncoderAndAWholeVaeCheckpoint) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  world::WorldVideoDataset data(tiny_clips());
  TempDir dir("refuse");
  VAE a = trainable(tiny_file());
  VaeTrainer(a, data, decoder_options(2)).save((dir.path / "decoder").string());
  VaeTrainerOptions whole = decoder_options(2);
  whole.trained = VaeTrainedPart::whole;
  VaeTrainer(a, data, whole).save((dir.path / "whole").string());

  VAE other = trainable(tiny_file(4));
  VaeTrainer t(other, data, decoder_options(2));
  try {
    t.load((dir.path / "decoder").string());
    ADD_FAILURE() << "loaded a decoder trained on another encoder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("differs from the model's"), std::string::npos) << e.what();
  }
  VAE same = trainable(tiny_file());
  EXPECT_THROW(VaeTrainer(same, data, decoder_options(2)).load((dir.path / "whole").string()), Error);
}

// ---- the command line -------------------------------------------------------------------------

int train_vae_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"train", "vae"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_train(int(argv.size()), argv.data());
}

void expect_error(const std::vector<std::string>& args, const std::string& text) {
  try {
    train_vae_cli(args);
    ADD_FAILURE() << "no error; expected one saying \"" << text << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(CliTrainVaeDecoderOnly, TrainsAWiderDecoderOnTheFrozenEncoderAndResumes) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  TempDir dir("cli");
  fs::create_directories(dir.path);
  const std::string init = (dir.path / "init.safetensors").string(), out = (dir.path / "run").string();
  save_tensors(init, tiny_file());
  const std::vector<std::string> data = {"--crop", "16", "--frames", "5", "--batch", "1", "--clips", "8"};
  const std::vector<std::string> run = std::vector<std::string>{"--decoder-only", "--init", init, "--decoder-dim",
                                                                "12", "--steps", "2", "--out", out} + data;
  ASSERT_EQ(train_vae_cli(run + std::vector<std::string>{"--stop-after", "1"}), 0);
  ASSERT_EQ(train_vae_cli(run + std::vector<std::string>{"--resume"}), 0);
  const VAE trained = VAE::from_tensors(load_tensors(out + "/step-00000002/ema.safetensors"));
  EXPECT_EQ(trained.config().decoder_dim, 12);
  expect_same_encoding(VAE::from_tensors(load_tensors(init)), trained, "cli");

  // Resuming with another width or another encoder, and the flags that do not go together.
  const std::string other = (dir.path / "other.safetensors").string();
  save_tensors(other, tiny_file(4));
  expect_error({"--decoder-only", "--init", init, "--decoder-dim", "16", "--steps", "3", "--out", out, "--resume"},
               "resume with --decoder-dim 12");
  expect_error({"--decoder-only", "--init", other, "--steps", "3", "--out", out, "--resume"}, "differs from");
  expect_error(std::vector<std::string>{"--decoder-only", "--steps", "1", "--out", out + "2"} + data, "--init FILE");
  expect_error({"--decoder-dim", "12", "--init", init, "--steps", "1", "--out", out + "2"}, "add --decoder-only");
  expect_error({"--decoder-only", "--init", init, "--init-logvar", "-6", "--steps", "1", "--out", out + "2"},
               "--init-logvar");
  // Wan2.1's upsamplers halve the width: a one-stage-wide VAE of mults 1,1 cannot take an odd one.
  VaeConfig flat = tiny_vae();
  flat.dim_mult = {1, 1}, flat.temporal_downsample = {true};
  const std::string flat_file = (dir.path / "flat.safetensors").string();
  save_tensors(flat_file, VAE::init_random(flat, 1).to_tensors());
  expect_error({"--decoder-only", "--init", flat_file, "--decoder-dim", "5", "--steps", "1", "--out", out + "2"},
               "a decoder of width 5 does not fit this VAE");
}

}  // namespace
}  // namespace kinema
