// The generation path on a tiny random-weight bundle: deterministic in the seed, the right
// frame count and size, conditioning-slot handling, and errors a user can act on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/world_latents.hpp"
#include "temp_dir.hpp"
#include "tiny_bundle.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

TEST(Pipeline, SameSeedGivesBitIdenticalFramesAndAnotherSeedDiffers) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.seed = 7, r.threads = 1;
  GenerateResult a = p.generate(r), b = p.generate(r);
  ASSERT_EQ(a.frames.size(), 5u);
  EXPECT_EQ(a.frames[0].width, 32);
  EXPECT_EQ(a.frames[0].height, 32);
  for (size_t i = 0; i < a.frames.size(); ++i) ASSERT_EQ(a.frames[i].rgb, b.frames[i].rgb);
  r.seed = 8;
  GenerateResult c = p.generate(r);
  EXPECT_NE(a.frames[2].rgb, c.frames[2].rgb);
  // Threads change how work is split, not the result.
  r.seed = 7, r.threads = 2;
  GenerateResult d = p.generate(r);
  for (size_t i = 0; i < a.frames.size(); ++i) ASSERT_EQ(a.frames[i].rgb, d.frames[i].rgb) << "frame " << i;
}

TEST(Pipeline, GuidanceIntervalTakesCfgHighFromItsNoiseLevelOn) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.seed = 7, r.steps = 4, r.cfg = 4, r.threads = 1;
  const GenerateResult plain = p.generate(r);
  r.guidance_from = 0.5f, r.cfg_high = 4;  // the same scale on both sides: the same video
  const GenerateResult same = p.generate(r);
  for (size_t i = 0; i < plain.frames.size(); ++i) ASSERT_EQ(plain.frames[i].rgb, same.frames[i].rgb) << i;
  r.cfg_high = 1;  // no guidance at the noisier half of the steps
  const GenerateResult interval = p.generate(r);
  EXPECT_NE(interval.frames[2].rgb, plain.frames[2].rgb);
  r.cfg = 1, r.guidance_from = 0;  // no guidance at all: differs from guidance at the quieter half
  EXPECT_NE(p.generate(r).frames[2].rgb, interval.frames[2].rgb);
  r.guidance_from = 1.5f;
  try {
    p.generate(r);
    FAIL() << "a noise level above 1 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--guidance-from is a noise level in [0, 1]"), std::string::npos) << e.what();
  }
  // The model's default interval travels in model.json.
  ModelManifest m = p.manifest();
  m.guidance_from = 0.8f, m.cfg_high = 2.5f;
  const fs::path json = fs::temp_directory_path() / ("kinema_interval_" + std::to_string(::getpid()) + ".json");
  std::ofstream(json) << manifest_json(m);
  const ModelManifest back = read_manifest(json.string());
  EXPECT_FLOAT_EQ(back.guidance_from, 0.8f);
  EXPECT_FLOAT_EQ(back.cfg_high, 2.5f);
  fs::remove(json);
}

TEST(Pipeline, ProjectedGuidanceIsPlainCfgUntilAskedAndTravelsInModelJson) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.seed = 7, r.steps = 4, r.cfg = 4, r.threads = 1;
  const GenerateResult plain = p.generate(r);
  r.guidance_parallel = 1, r.guidance_cap = 0;  // no projection, no cap: plain CFG
  const GenerateResult same = p.generate(r);
  for (size_t i = 0; i < plain.frames.size(); ++i) ASSERT_EQ(plain.frames[i].rgb, same.frames[i].rgb) << i;
  r.guidance_parallel = 0;
  EXPECT_NE(p.generate(r).frames[2].rgb, plain.frames[2].rgb);
  r.guidance_parallel = 1.5f;
  try {
    p.generate(r);
    FAIL() << "a parallel share above 1 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--cfg-parallel must lie in [0, 1]"), std::string::npos) << e.what();
  }
  ModelManifest m = p.manifest();
  m.guidance_parallel = 0.25f, m.guidance_cap = 0.5f;
  const fs::path json = fs::temp_directory_path() / ("kinema_apg_" + std::to_string(::getpid()) + ".json");
  std::ofstream(json) << manifest_json(m);
  const ModelManifest back = read_manifest(json.string());
  EXPECT_FLOAT_EQ(back.guidance_parallel, 0.25f);
  EXPECT_FLOAT_EQ(back.guidance_cap, 0.5f);
  std::string text = manifest_json(m);
  const size_t at = text.find("\"guidance_cap\": ");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 16, "-");  // a negative cap is refused on load
  std::ofstream(json) << text;
  EXPECT_THROW(read_manifest(json.string()), Error);
  fs::remove(json);
}

TEST(Pipeline, ExpandsThePromptIntoADetailedCaptionUnlessAskedNotTo) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.steps = 1;
  GenerateResult e = p.generate(r);
  EXPECT_NE(e.caption, r.prompt);
  EXPECT_NE(e.caption.find("red"), std::string::npos);
  r.expand = false;
  EXPECT_EQ(p.generate(r).caption, r.prompt);
}

// The tiny bundle given a layout path of `channels` (not at zero: the plan shows), written to dir.
void write_grounded_bundle(const fs::path& dir, int64_t channels) {
  const fs::path tiny = tiny_bundle();
  TensorFile dit = load_tensors((tiny / "dit.safetensors").string());
  DiTConfig c = infer_dit_config(dit.tensors, dit.metadata);
  c.layout_channels = channels;
  add_missing_at_zero(dit.tensors, c);
  std::vector<float> w(size_t(shape_numel(dit.tensors["layout_embedding.weight"].shape())));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.5f * std::sin(0.7f * float(i));
  dit.tensors["layout_embedding.weight"] = Tensor::from_vector(w, dit.tensors["layout_embedding.weight"].shape());
  std::ifstream tok(tiny / "tokenizer.model", std::ios::binary);
  write_model_bundle(dir.string(), Pipeline::load(tiny.string()).manifest(),
                     std::string(std::istreambuf_iterator<char>(tok), {}),
                     load_tensors((tiny / "text_encoder.safetensors").string()),
                     load_tensors((tiny / "vae.safetensors").string()), dit);
}

// A DiT with a layout path is given the expanded prompt's plan (world::scene_layout) in both
// CFG branches, moved onto given frames; without one, with --no-layout, for a prompt used as
// written, or for an edit, text alone.
TEST(Pipeline, AGroundedModelDrawsFromTheExpandedPromptsPlanUnlessAskedNotTo) {
  const fs::path dir = test::process_temp_dir("kinema_grounded_bundle");
  write_grounded_bundle(dir, world::kLayoutChannels);
  Pipeline grounded = Pipeline::load(dir.string());
  EXPECT_EQ(grounded.dit().config().layout_channels, world::kLayoutChannels);
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.seed = 3, r.steps = 2, r.threads = 1;
  const GenerateResult planned = grounded.generate(r);
  EXPECT_TRUE(planned.expanded);
  EXPECT_TRUE(planned.planned);
  r.layout = false;
  const GenerateResult text_alone = grounded.generate(r);
  EXPECT_FALSE(text_alone.planned);
  EXPECT_NE(planned.frames[2].rgb, text_alone.frames[2].rgb);
  // Plan guidance: the unconditional branch without the plan moves the guided result; the
  // model's default is off, and a bundle can turn it on.
  r.layout = true, r.plan_guidance = 1;
  const GenerateResult plan_guided = grounded.generate(r);
  EXPECT_TRUE(plan_guided.planned);
  EXPECT_NE(plan_guided.frames[2].rgb, planned.frames[2].rgb);
  r.plan_guidance = 0;
  EXPECT_EQ(grounded.generate(r).frames[2].rgb, planned.frames[2].rgb);
  r.plan_guidance = 2;
  EXPECT_THROW(grounded.generate(r), Error);
  ModelManifest m = grounded.manifest();
  m.plan_guidance = true;
  const fs::path json = dir / "model.json";
  std::ofstream(json) << manifest_json(m);
  EXPECT_TRUE(read_manifest(json.string()).plan_guidance);
  r.plan_guidance = -1;
  EXPECT_EQ(Pipeline::load(dir.string()).generate(r).frames[2].rgb, plan_guided.frames[2].rgb);
  r.layout = true, r.expand = false;
  EXPECT_FALSE(grounded.generate(r).planned);
  // Image-to-video: the plan is moved onto the image (a world render with the red circle
  // elsewhere than the words' plan put it, and a blue square the words do not name).
  world::Scene image = world::expand(r.prompt, uint64_t(r.seed), {planned.frames[0].width, planned.frames[0].height, planned.fps,
                                                                int(planned.frames.size())}).scene;
  ASSERT_EQ(image.objects.size(), 1u);
  image.objects[0].x = image.objects[0].x < 0.5 ? 0.75 : 0.25, image.objects[0].size = world::Size::large;
  image.background = world::Background::plain;  // 32x32: large objects on a plain ground to be seen
  image.objects.push_back(image.objects[0]);
  image.objects[1].color = world::Color::blue, image.objects[1].shape = world::Shape::square;
  image.objects[1].x = 1 - image.objects[0].x, image.objects[1].behavior = world::Behavior::still;
  const world::Image first = world::render(image)[0];
  r.expand = true, r.known = {KnownFrame{0, Frame{first.width, first.height, first.rgb}}};
  const GenerateResult animated = grounded.generate(r);
  EXPECT_TRUE(animated.planned);
  EXPECT_NE(std::find(animated.notes.begin(), animated.notes.end(),
                      "plan aligned with given frame 0: 1 of its objects placed where the frame shows them, 1 seen "
                      "there added"),
            animated.notes.end());
  r.layout = false;
  EXPECT_NE(grounded.generate(r).frames[2].rgb, animated.frames[2].rgb);
  r.layout = true, r.known.clear(), r.edit = planned.frames, r.strength = 0.5f;  // an edit: its input, no plan
  const GenerateResult edited = grounded.generate(r);
  EXPECT_FALSE(edited.planned);
  EXPECT_NE(std::find(edited.notes.begin(), edited.notes.end(),
                      "editing: drawn from the input and the caption, without the plan"),
            edited.notes.end());
  r.edit.clear();
  r.expand = true;
  EXPECT_FALSE(Pipeline::load(tiny_bundle().string()).generate(r).planned);  // no layout path
}

// A model trained with silhouettes (--layout 2) is given them; a layout path of another width is
// drawn from the caption alone, with a note saying why.
TEST(Pipeline, AGroundedModelIsGivenTheLayoutItsPathWasTrainedOn) {
  GenerateRequest r;
  r.prompt = "a red star moves right", r.seed = 3, r.steps = 2, r.threads = 1;
  const fs::path outlined = test::process_temp_dir("kinema_silhouette_bundle");
  write_grounded_bundle(outlined, world::kSilhouetteLayoutChannels);
  Pipeline p = Pipeline::load(outlined.string());
  EXPECT_EQ(p.dit().config().layout_channels, world::kSilhouetteLayoutChannels);
  const GenerateResult planned = p.generate(r);
  EXPECT_TRUE(planned.planned);
  r.layout = false;
  EXPECT_NE(p.generate(r).frames[2].rgb, planned.frames[2].rgb);
  r.layout = true;
  const fs::path odd = test::process_temp_dir("kinema_odd_layout_bundle");
  write_grounded_bundle(odd, 20);
  const GenerateResult unplanned = Pipeline::load(odd.string()).generate(r);
  EXPECT_FALSE(unplanned.planned);
  EXPECT_TRUE(std::any_of(unplanned.notes.begin(), unplanned.notes.end(),
                          [](const std::string& n) { return n.find("does not fit this model") != std::string::npos; }));
  fs::remove_all(outlined), fs::remove_all(odd);
}

TEST(Pipeline, OneFrameIsAnImageAndOtherSizesWork) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r;
  r.prompt = "a blue square", r.frames = 1, r.width = 48, r.height = 32, r.steps = 2;
  GenerateResult g = p.generate(r);
  ASSERT_EQ(g.frames.size(), 1u);
  EXPECT_EQ(g.frames[0].width, 48);
  EXPECT_EQ(g.frames[0].height, 32);
}

TEST(Pipeline, RequestErrorsSayWhatIsValid) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  auto message = [&](GenerateRequest r) {
    r.prompt = "a red circle";
    try {
      p.resolve(r);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  GenerateRequest r;
  r.width = 50, r.height = 30;
  EXPECT_NE(message(r).find("nearest valid: 48x32"), std::string::npos) << message(r);
  r = {};
  r.frames = 6;
  EXPECT_NE(message(r).find("nearest valid: 5"), std::string::npos) << message(r);
  r = {};
  r.sampler = "ddim";
  EXPECT_NE(message(r).find("unipc"), std::string::npos) << message(r);
  r = {};
  r.width = 4096, r.height = 4096, r.frames = 4001;
  EXPECT_NE(message(r).find("available"), std::string::npos) << message(r);
}

TEST(Pipeline, MissingOrCorruptedFilesAreNamed) {
  const fs::path dir = fs::temp_directory_path() / ("kinema_bundle_bad_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(tiny_bundle(), dir);
  {
    std::fstream f(dir / "dit.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x7f');
  }
  try {
    Pipeline::load(dir.string());
    FAIL() << "a corrupted DiT loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupted"), std::string::npos) << e.what();
  }
  fs::remove(dir / "vae.safetensors");
  try {
    Pipeline::load(dir.string());
    FAIL() << "a missing VAE loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Pipeline::load((dir / "nothing").string()), Error);
  fs::remove_all(dir);
}

TEST(Pipeline, ContactSheetSpreadsFramesFromFirstToLast) {
  std::vector<Frame> frames(9);
  for (int i = 0; i < 9; ++i) frames[size_t(i)] = Frame{2, 1, std::vector<uint8_t>(6, uint8_t(i))};
  Frame s = contact_sheet(frames, 3);
  EXPECT_EQ(s.width, 3 * 2 + 2 * 2);
  EXPECT_EQ(s.rgb[0], 0);                       // first frame
  EXPECT_EQ(s.rgb[size_t(4 * 3)], 4);           // middle
  EXPECT_EQ(s.rgb[size_t(8 * 3)], 8);           // last
}

}  // namespace
}  // namespace kinema
