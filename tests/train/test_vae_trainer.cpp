// The VAE trainer and its world clips: clips are a pure function of the index and never
// held out; a tiny VAE learns; resume gives the same losses and weights bit for bit.
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
#include "error_of.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace cli {
int cmd_train(int argc, char** argv);
}
namespace {

int train_vae_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"train", "vae"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_train(int(argv.size()), argv.data());
}

VaeConfig tiny_vae() {
  VaeConfig c;
  c.dim = 8, c.z_dim = 4, c.dim_mult = {1, 2, 2}, c.num_res_blocks = 1, c.temporal_downsample = {false, true};
  return c;  // x4 space, x2 time
}

world::WorldVideoOptions tiny_clips() {
  world::WorldVideoOptions o;
  o.count = 64, o.frames = 5, o.crop = 16, o.image_fraction = 0.25, o.seed = 7;
  return o;
}

VaeTrainerOptions tiny_options(int64_t steps) {
  VaeTrainerOptions o;
  o.batch_size = 2, o.accumulation = 2, o.seed = 5, o.ema_decay = 0.9f;
  o.lr = LrSchedule{3e-3f, 3, steps, 0.1f};
  o.adamw.weight_decay = 0.f;
  return o;
}

TEST(WorldVideo, ClipsArePureFunctionsOfTheIndexInMinusOneToOne) {
  world::WorldVideoDataset data(tiny_clips());
  bool saw_image = false, saw_clip = false;
  for (int64_t i = 0; i < 16; ++i) {
    Tensor a = data.get(i), b = data.get(i);
    ASSERT_EQ(a.to_vector(), b.to_vector()) << "index " << i;
    ASSERT_EQ(a.shape()[0], 3);
    ASSERT_EQ(a.shape()[2], 16);
    ASSERT_EQ(a.shape()[3], 16);
    (a.shape()[1] == 1 ? saw_image : saw_clip) = true;
    if (a.shape()[1] != 1) {
      ASSERT_EQ(a.shape()[1], 5);
    }
    for (float v : a.to_vector()) ASSERT_TRUE(v >= -1.f && v <= 1.f);
  }
  EXPECT_TRUE(saw_image && saw_clip);
  EXPECT_NE(data.get(0).to_vector(), data.get(1).to_vector());
}

TEST(WorldVideo, NeverYieldsAHeldOutScene) {
  world::WorldVideoOptions o = tiny_clips();
  o.count = 100000;
  for (int64_t i = 0; i < 400; ++i) ASSERT_FALSE(world::is_held_out(world::pick_world_clip(o, i).scene));
}

TEST(WorldVideo, WholeFrameCropKeepsTheRenderSize) {
  world::WorldVideoOptions o = tiny_clips();
  o.crop = 0, o.image_fraction = 1;
  world::WorldVideoDataset data(o);
  Tensor x = data.get(3);
  world::WorldClipPick p = world::pick_world_clip(o, 3);
  EXPECT_EQ(x.shape(), (Shape{3, 1, p.scene.height, p.scene.width}));
}

// 40 steps of the tiny VAE: the loss falls by 30% and a probe clip's PSNR rises by 3 dB.
void expect_tiny_vae_learns(DType compute) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  world::WorldVideoDataset data(tiny_clips());
  VAE model = VAE::init_random(tiny_vae(), 1);
  const Tensor probe = data.get(9);
  const double before = vae_psnr(model, probe);
  VaeTrainerOptions o = tiny_options(40);
  o.compute = compute;
  VaeTrainer trainer(model, data, o);
  float first = 0, last = 0;
  for (int i = 0; i < 40; ++i) {
    StepStats s = trainer.step();
    (i < 5 ? first : last) += s.loss / 5.f * (i < 5 || i >= 35);
  }
  const double after = vae_psnr(model, probe);
  std::printf("  %s: loss %.4f -> %.4f, PSNR %.2f -> %.2f dB\n", std::string(dtype_name(compute)).c_str(), first,
              last, before, after);
  EXPECT_LT(last, 0.7f * first);
  EXPECT_GT(after, before + 3.0);
}

TEST(VaeTrainer, TinyVaeLearnsWorldClips) { expect_tiny_vae_learns(DType::f32); }

// The trainer hands its compute to the VAE (Vae.Bf16ComputeIsTheRoundedInputsConvolution checks
// the numbers): a bf16 run learns as the f32 run does; f16 is refused up front.
TEST(VaeTrainer, Bf16ComputeLearnsWorldClips) {
  expect_tiny_vae_learns(DType::bf16);
  world::WorldVideoDataset data(tiny_clips());
  VAE model = VAE::init_random(tiny_vae(), 1);
  VaeTrainerOptions bad = tiny_options(2);
  bad.compute = DType::f16;  // f16 products are not offered
  EXPECT_THROW(VaeTrainer(model, data, bad), Error);
}

TEST(VaeTrainer, ResumeGivesTheSameLossesAndWeightsBitForBit) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  world::WorldVideoDataset data(tiny_clips());
  const fs::path dir = fs::temp_directory_path() / ("kinema_vae_resume_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::vector<float> straight, resumed;
  VAE a = VAE::init_random(tiny_vae(), 1);
  {
    VaeTrainer t(a, data, tiny_options(6));
    for (int i = 0; i < 6; ++i) straight.push_back(t.step().loss);
  }
  {
    VAE b = VAE::init_random(tiny_vae(), 1);
    VaeTrainer t(b, data, tiny_options(6));
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
    t.save(dir.string());
  }
  VAE c = VAE::init_random(tiny_vae(), 99);  // another init: everything must come from the file
  VaeTrainer t(c, data, tiny_options(6));
  t.load(dir.string());
  EXPECT_EQ(t.steps_done(), 3);
  for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
  EXPECT_EQ(straight, resumed);
  for (size_t i = 0; i < a.parameters().size(); ++i)
    ASSERT_EQ(a.parameters()[i].to_vector(), c.parameters()[i].to_vector()) << "parameter " << i;
  fs::remove_all(dir);
}

TEST(VaeTrainer, ChromaWeightScalesColourErrorsAndLeavesBrightnessErrors) {
  // Two pixels of one frame: a pure brightness error (+0.3 on R, G, B) and a pure colour
  // error (+0.2 R, -0.2 G).
  Tensor x = Tensor::zeros({1, 3, 1, 1, 2});
  Tensor y = Tensor::from_vector({0.3f, 0.2f, 0.3f, -0.2f, 0.3f, 0.f}, {1, 3, 1, 1, 2});
  VaeTrainerOptions o;
  o.l1_weight = 0, o.l2_weight = 1;
  const float plain = vae_reconstruction_loss(y, x, o).item();
  EXPECT_NEAR(plain, (3 * 0.09f + 2 * 0.04f) / 6.f, 1e-6f);
  o.chroma_weight = 3;
  // In the opponent basis: brightness 0.3 sqrt(3) (unchanged), colour 3 * 0.2 sqrt(2) (x9 in L2).
  EXPECT_NEAR(vae_reconstruction_loss(y, x, o).item(), (0.27f + 9 * 0.08f) / 6.f, 1e-6f);
  o.chroma_weight = 1.0001f;  // the rotated basis is orthonormal: L2 is unchanged by it
  EXPECT_NEAR(vae_reconstruction_loss(y, x, o).item(), plain, 1e-4f);
}

TEST(VaeTrainer, MotionWeightAddsTheSquaredErrorOfEachFrameToFrameChange) {
  // Three frames of two pixels; the decode is off by e_t per frame (the same in every channel
  // and pixel) plus a pixel-dependent +-0.05 that every frame shares (no change to it).
  const float e[3] = {0.1f, 0.4f, 0.2f};
  Tensor x = Tensor::zeros({1, 3, 3, 1, 2});
  std::vector<float> y;
  for (int c = 0; c < 3; ++c)
    for (int t = 0; t < 3; ++t) y.push_back(e[t] + 0.05f), y.push_back(e[t] - 0.05f);
  Tensor decoded = Tensor::from_vector(y, {1, 3, 3, 1, 2}).set_requires_grad();
  VaeTrainerOptions o;
  o.l1_weight = 0, o.l2_weight = 0, o.motion_weight = 2;
  Tensor loss = vae_reconstruction_loss(decoded, x, o);
  // (0.4 - 0.1)^2 and (0.2 - 0.4)^2 over two transitions, each pixel and channel alike.
  const float motion = (0.09f + 0.04f) / 2.f;
  EXPECT_NEAR(loss.item(), 2 * motion, 1e-6f);
  // d/dy_t of 2 mean (d_{t+1} - d_t)^2 over 12 terms: frame 0 -(0.3), frame 1 0.3 + 0.2, frame 2 -(0.2), x 4/12.
  backward(loss);
  const std::vector<float> g = decoded.grad().to_vector();
  const float want[3] = {-0.3f / 3, 0.5f / 3, -0.2f / 3};
  for (int c = 0; c < 3; ++c)
    for (int t = 0; t < 3; ++t)
      for (int i = 0; i < 2; ++i) EXPECT_NEAR(g[size_t((c * 3 + t) * 2 + i)], want[t], 1e-6f) << c << " " << t;
  // With the plain L2 on, the motion term adds to it; one frame has no change to weigh.
  VaeTrainerOptions plain;
  plain.l1_weight = 0;
  o.l2_weight = 1;
  EXPECT_NEAR(vae_reconstruction_loss(decoded.detach(), x, o).item(),
              vae_reconstruction_loss(decoded.detach(), x, plain).item() + 2 * motion, 1e-6f);
  o.motion_weight = 5;
  Tensor image = Tensor::from_vector({0.3f, 0.1f, 0.2f}, {1, 3, 1, 1, 1});
  EXPECT_NEAR(vae_reconstruction_loss(image, Tensor::zeros({1, 3, 1, 1, 1}), o).item(), (0.09f + 0.01f + 0.04f) / 3, 1e-6f);
  o.motion_weight = -1;
  EXPECT_THROW(vae_reconstruction_loss(image, image, o), Error);
}

TEST(VaeTrainer, FrameChangesMeasureEachFrameToFrameStepOnTheVideoScale) {
  // One channel, three frames of two pixels in [-1, 1]; changes are measured on [0, 1], clamped.
  Tensor clip = Tensor::from_vector({-1.f, -1.f, 0.f, -1.f, 3.f, 1.f}, {1, 3, 1, 2});
  const std::vector<double> c = frame_changes(clip);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0], (0.5 + 0.0) / 2, 1e-12);
  EXPECT_NEAR(c[1], (0.5 + 1.0) / 2, 1e-12);  // 3 is clamped to 1 as a written video would be
  EXPECT_TRUE(frame_changes(Tensor::zeros({3, 1, 4, 4})).empty());
  EXPECT_THROW(frame_changes(Tensor::zeros({3, 4, 4})), Error);
}

TEST(VaeTrainer, GroupMeanFramesKeepFrameZeroAndStillEachGroupAtItsMean) {
  // One channel, 1 + 4 + 2 frames of one pixel: frame 0, a group of 4, a short last group.
  Tensor clip = Tensor::from_vector({0.9f, 0.f, 1.f, 2.f, 3.f, -1.f, 1.f}, {1, 7, 1, 1});
  EXPECT_EQ(group_mean_frames(clip, 4).to_vector(), (std::vector<float>{0.9f, 1.5f, 1.5f, 1.5f, 1.5f, 0.f, 0.f}));
  EXPECT_EQ(group_mean_frames(clip, 1).to_vector(), clip.to_vector());
  EXPECT_THROW(group_mean_frames(clip, 0), Error);
  EXPECT_THROW(group_mean_frames(Tensor::zeros({7, 1, 1}), 4), Error);
}

TEST(CliTrainVae, ComputeMustBeF32Bf16OrAuto) {
  try {
    train_vae_cli({"--steps", "1", "--out", "unused", "--compute", "f16"});
    FAIL() << "--compute f16 was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--compute needs f32|bf16|auto; got 'f16'"), std::string::npos) << e.what();
  }
}

TEST(CliTrainVae, NegativeMotionWeightIsRefusedNamingTheFlag) {
  try {
    train_vae_cli({"--steps", "1", "--out", "unused", "--motion", "-0.5"});
    FAIL() << "--motion -0.5 was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--motion must be >= 0"), std::string::npos) << e.what();
  }
}

TEST(CliTrainVae, TimeConvLrScalesOnlyTheTimeResamplers) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  const fs::path dir = fs::temp_directory_path() / ("kinema_vae_tlr_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::vector<std::string> tiny = {"--dim", "4", "--z-dim", "4", "--mults", "1,2", "--temporal", "1",
                                         "--crop", "16", "--frames", "5", "--batch", "1"};
  auto plus = [](std::vector<std::string> args, const std::vector<std::string>& extra) {
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  ASSERT_EQ(train_vae_cli(plus(tiny, {"--steps", "2", "--out", (dir / "init").string(), "--lr", "0.01"})), 0);
  const std::string init = (dir / "init" / "step-00000002" / "model.safetensors").string();
  const TensorFile start = load_tensors(init);
  // One step from the same weights, data and noise: with the time resamplers' rate at 0 they stay
  // as they were, and every other weight takes the very step it takes without the flag.
  auto one_step = [&](const std::string& name, const std::vector<std::string>& extra) {
    EXPECT_EQ(train_vae_cli(plus(plus(tiny, {"--steps", "1", "--out", (dir / name).string(), "--init", init}), extra)), 0);
    return load_tensors((dir / name / "step-00000001" / "model.safetensors").string());
  };
  const TensorFile frozen = one_step("frozen", {"--time-conv-lr", "0"}), plain = one_step("plain", {}),
                   sharded = one_step("sharded", {"--time-conv-lr", "0", "--zero"});
  int time_convs = 0, moved = 0;
  for (const auto& [name, w] : start.tensors) {
    const bool time_conv = name.find(".time_conv.") != std::string::npos;
    time_convs += time_conv;
    if (time_conv) {
      EXPECT_EQ(frozen.tensors.at(name).to_vector(), w.to_vector()) << name;
      EXPECT_EQ(sharded.tensors.at(name).to_vector(), w.to_vector()) << name;
      moved += plain.tensors.at(name).to_vector() != w.to_vector();
    } else {
      EXPECT_EQ(frozen.tensors.at(name).to_vector(), plain.tensors.at(name).to_vector()) << name;
    }
  }
  EXPECT_GT(time_convs, 0);
  EXPECT_GT(moved, 0);  // without the flag they train
  EXPECT_NE(test::error_of([&] { train_vae_cli(plus(tiny, {"--steps", "1", "--out", (dir / "bad").string(), "--time-conv-lr", "-1"})); })
                .find("--time-conv-lr must be >= 0"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(CliTrainVae, WarmStartsFromCommittedWeights) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  const fs::path dir = fs::temp_directory_path() / ("kinema_vae_init_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::vector<std::string> tiny = {"--dim", "4", "--z-dim", "4", "--mults", "1,2", "--temporal", "1",
                                         "--crop", "16", "--frames", "3", "--batch", "1"};
  std::vector<std::string> first = {"--steps", "2", "--out", (dir / "a").string()};
  first.insert(first.end(), tiny.begin(), tiny.end());
  ASSERT_EQ(train_vae_cli(first), 0);
  const std::string weights = (dir / "a" / "step-00000002" / "ema.safetensors").string();
  // lr 0 and no weight decay: the warm-started run must end exactly where it started.
  ASSERT_EQ(train_vae_cli({"--steps", "1", "--out", (dir / "b").string(), "--init", weights, "--lr", "0",
                           "--weight-decay", "0", "--crop", "16", "--frames", "3", "--batch", "1"}), 0);
  TensorFile start = load_tensors(weights), end = load_tensors((dir / "b" / "step-00000001" / "model.safetensors").string());
  ASSERT_EQ(start.tensors.size(), end.tensors.size());
  for (const auto& [name, t] : start.tensors) ASSERT_EQ(t.to_vector(), end.tensors.at(name).to_vector()) << name;
  fs::remove_all(dir);
}

TEST(VaeTrainer, PsnrMatchesItsClosedForm) {
  Tensor x = Tensor::from_vector({-1.f, 0.f, 1.f, 0.5f}, {1, 1, 2, 2});
  Tensor y = Tensor::from_vector({-1.f, 0.2f, 1.f, 0.5f}, {1, 1, 2, 2});
  // One pixel off by 0.2 in [-1, 1] = 0.1 in [0, 1]: mse = 0.01 / 4, PSNR = 10 log10(400).
  EXPECT_NEAR(psnr(y, x), 10.0 * std::log10(400.0), 1e-5);  // 0.2f is not exact
  // Values outside [-1, 1] are clamped as a written video would be.
  Tensor z = Tensor::from_vector({-3.f, 0.f, 5.f, 0.5f}, {1, 1, 2, 2});
  EXPECT_EQ(psnr(z, x), 99.0);
}

TEST(VaeTrainer, FrameErrorsNameTheFrameThatDiffersAndAverageToThePsnr) {
  // [C=3, T=3, 2, 2]: one value of frame 1 (channel 2) off by 0.2 in [-1, 1] = 0.1 in [0, 1].
  std::vector<float> v(3 * 3 * 4, 0.25f), w = v;
  w[(2 * 3 + 1) * 4 + 3] += 0.2f;
  Tensor x = Tensor::from_vector(v, {3, 3, 2, 2}), y = Tensor::from_vector(w, {3, 3, 2, 2});
  const std::vector<double> e = frame_squared_errors(y, x);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0], 0.0);
  EXPECT_NEAR(e[1], 0.01 / 12, 1e-9);  // one of the frame's 12 values
  EXPECT_EQ(e[2], 0.0);
  EXPECT_NEAR(psnr(y, x), psnr_of_mse(0.01 / 36), 1e-5);
  EXPECT_EQ(frame_squared_errors(reshape(y, {1, 3, 3, 2, 2}), reshape(x, {1, 3, 3, 2, 2})), e);
  EXPECT_THROW(frame_squared_errors(reshape(y, {3, 3, 4}), reshape(x, {3, 3, 4})), Error);
}

}  // namespace
}  // namespace kinema
