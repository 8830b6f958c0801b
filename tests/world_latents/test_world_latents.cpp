// The world -> VAE -> latent set: a pure function of index, a disk cache that equals
// recomputation and survives corruption, keys that change with the VAE and the options, no
// held-out scene; `kinema vae stats|recon` and `kinema train dit --data world`.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/vae_train.hpp"
#include "kinema/world_latents.hpp"

namespace kinema::cli {
int cmd_vae(int argc, char** argv);
int cmd_train(int argc, char** argv);
}  // namespace kinema::cli

namespace fs = std::filesystem;

namespace kinema::world {
namespace {

// x4 in space and time, 3 latent channels: cheap on small clips.
VaeConfig tiny_vae() {
  VaeConfig c;
  c.dim = 4, c.z_dim = 3, c.num_res_blocks = 1;
  c.dim_mult = {1, 1, 1};
  c.temporal_downsample = {true, true};
  return c;
}

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::load(std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model");
  return t;
}

TextEncoderConfig tiny_encoder() {
  TextEncoderConfig c;
  c.vocab_size = tokenizer().vocab_size();
  c.dim = 16, c.dim_attn = 16, c.ffn_dim = 32, c.num_heads = 2, c.num_layers = 1;
  return c;
}

struct Models {
  VAE vae = VAE::init_random(tiny_vae(), 1, VaeInit::random);
  TextEncoder encoder = TextEncoder::init_random(tiny_encoder(), 2);
};
Models& models() {
  static Models m;
  return m;
}

WorldLatentOptions small(const std::string& cache = "") {
  WorldLatentOptions o;
  o.count = 1000;
  o.frames = 5;
  o.sizes = {{32, 32}, {48, 32}};
  o.cache_dir = cache;
  return o;
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("kinema_wl_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

void expect_same(const LatentSample& a, const LatentSample& b) {
  EXPECT_EQ(a.latent.shape(), b.latent.shape());
  EXPECT_EQ(a.latent.to_vector(), b.latent.to_vector());
  EXPECT_EQ(a.context.shape(), b.context.shape());
  EXPECT_EQ(a.context.to_vector(), b.context.to_vector());
  EXPECT_EQ(a.context_len, b.context_len);
}

TEST(WorldLatents, GetIsAPureFunctionOfIndexWithTheBucketsShape) {
  Models& m = models();
  WorldLatentDataset a(m.vae, m.encoder, tokenizer(), small()), b(m.vae, m.encoder, tokenizer(), small());
  for (int64_t i : {0, 7, 3, 7}) {
    LatentSample s = a.get(i);
    expect_same(s, b.get(i));
    expect_same(s, a.get(i));
    const WorldClipPick p = a.pick(i);
    EXPECT_EQ(a.bucket(i), std::to_string(p.scene.width) + "x" + std::to_string(p.scene.height) + "x" +
                               std::to_string(p.frames));
    EXPECT_EQ(s.latent.shape(), (kinema::Shape{3, 1 + (p.frames - 1) / 4, p.scene.height / 4, p.scene.width / 4}));
    EXPECT_EQ(s.context.size(1), 16);
    EXPECT_EQ(s.context_len, s.context.size(0));
    EXPECT_EQ(p.first_frame, 0);  // the clip is the whole scene its caption describes
    EXPECT_EQ(p.scene.frames, p.frames);
  }
  Tensor e = a.empty_context();
  EXPECT_EQ(e.shape(), (kinema::Shape{1, 16}));
}

TEST(WorldLatents, BucketAgreesWithPickAndNoHeldOutSceneAppears) {
  Models& m = models();
  WorldLatentOptions o = small();
  o.sizes = WorldLatentOptions{}.sizes;
  o.frames = 25;
  WorldLatentDataset d(m.vae, m.encoder, tokenizer(), o);
  int images = 0;
  for (int64_t i = 0; i < 500; ++i) {
    const WorldClipPick p = d.pick(i);
    ASSERT_FALSE(is_held_out(p.scene)) << "index " << i;
    ASSERT_EQ(d.bucket(i), std::to_string(p.scene.width) + "x" + std::to_string(p.scene.height) + "x" +
                               std::to_string(p.frames));
    images += p.frames == 1;
  }
  EXPECT_NEAR(images / 500.0, 0.25, 0.06);
}

TEST(WorldLatents, CacheHitEqualsRecomputeAndCorruptEntriesAreRecomputed) {
  Models& m = models();
  const fs::path dir = temp_dir("cache");
  WorldLatentDataset plain(m.vae, m.encoder, tokenizer(), small());
  WorldLatentDataset writer(m.vae, m.encoder, tokenizer(), small(dir.string()));
  const std::vector<int64_t> idx = {0, 1, 2};
  EXPECT_EQ(writer.precompute(0, 3, false), 3);
  EXPECT_EQ(writer.precompute(0, 3, false), 0);  // all cached now
  for (int64_t i : idx) EXPECT_TRUE(fs::exists(writer.cache_path(i))) << writer.cache_path(i);
  EXPECT_TRUE(fs::exists(dir / writer.cache_key() / "options.txt"));

  WorldLatentDataset reader(m.vae, m.encoder, tokenizer(), small(dir.string()));
  for (int64_t i : idx) expect_same(reader.get(i), plain.get(i));
  EXPECT_EQ(reader.cache_hits(), 3);
  EXPECT_EQ(reader.cache_misses(), 0);

  // Truncated, garbage, and one flipped data byte (caught by the checksum).
  const std::string p0 = reader.cache_path(0), p1 = reader.cache_path(1), p2 = reader.cache_path(2);
  fs::resize_file(p0, fs::file_size(p0) / 2);
  std::ofstream(p1, std::ios::binary | std::ios::trunc) << "not a tensor file";
  {
    std::fstream f(p2, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(-3, std::ios::end);
    char c = 0;
    f.get(c);
    f.seekp(-3, std::ios::end);
    f.put(char(c ^ 0x40));
  }
  WorldLatentDataset again(m.vae, m.encoder, tokenizer(), small(dir.string()));
  for (int64_t i : idx) expect_same(again.get(i), plain.get(i));
  EXPECT_EQ(again.cache_misses(), 3);
  WorldLatentDataset healed(m.vae, m.encoder, tokenizer(), small(dir.string()));
  for (int64_t i : idx) healed.get(i);
  EXPECT_EQ(healed.cache_hits(), 3);  // rewritten
  // No temporary files left behind.
  for (const auto& e : fs::recursive_directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  fs::remove_all(dir);
}

// --focus: a share of indices show one large object alone; every other index keeps its scene
// and its cached latent, and focus samples are cached under names of their own.
TEST(WorldLatents, FocusSamplesShowOneLargeObjectAndLeaveTheOtherIndicesAlone) {
  WorldLatentOptions plain = small(), focus = small();
  focus.focus_fraction = 0.3;
  int focused = 0;
  for (int64_t i = 0; i < 300; ++i) {
    const WorldClipPick a = pick_world_clip(plain.video(), i), b = pick_world_clip(focus.video(), i);
    if (!world_clip_focus(focus.video(), i)) {
      EXPECT_EQ(a.scene.seed, b.scene.seed) << i;
      ASSERT_EQ(a.scene.objects.size(), b.scene.objects.size()) << i;
      for (size_t k = 0; k < a.scene.objects.size(); ++k) {
        EXPECT_EQ(a.scene.objects[k].x, b.scene.objects[k].x) << i;
        EXPECT_EQ(a.scene.objects[k].shape, b.scene.objects[k].shape) << i;
      }
      continue;
    }
    ++focused;
    ASSERT_EQ(b.scene.objects.size(), 1u) << i;
    const Object& o = b.scene.objects[0];
    EXPECT_TRUE(o.size == Size::large || o.behavior == Behavior::grow) << i;  // a grower starts medium
    EXPECT_FALSE(is_held_out(b.scene)) << i;
    EXPECT_EQ(b.frames, a.frames) << i;  // the image-or-clip draw and the size are the index's own
    EXPECT_EQ(b.scene.width, a.scene.width) << i;
  }
  EXPECT_NEAR(focused, 90, 25);
  EXPECT_FALSE(world_clip_focus(plain.video(), 0));
  focus.focus_fraction = 1.5;
  EXPECT_THROW(pick_world_clip(focus.video(), 0), Error);

  Models& m = models();
  const fs::path dir = temp_dir("focus");
  WorldLatentOptions fo = small(dir.string()), po = small(dir.string());
  fo.focus_fraction = 0.3;
  const WorldLatentDataset fd(m.vae, m.encoder, tokenizer(), fo), pd(m.vae, m.encoder, tokenizer(), po);
  EXPECT_EQ(fd.cache_key(), pd.cache_key());
  int64_t f = -1, n = -1;
  for (int64_t i = 0; i < 100 && (f < 0 || n < 0); ++i) (world_clip_focus(fo.video(), i) ? f : n) = i;
  ASSERT_TRUE(f >= 0 && n >= 0);
  EXPECT_EQ(fd.cache_path(n), pd.cache_path(n));
  EXPECT_NE(fd.cache_path(f), pd.cache_path(f));
  fs::remove_all(dir);
}

TEST(WorldLatents, ADifferentDecoderKeepsTheKeyADifferentEncoderDoesNot) {
  Models& m = models();
  TensorFile f = m.vae.to_tensors();
  TensorFile dec = f, enc = f;
  int changed_dec = 0, changed_enc = 0;
  for (auto& [name, w] : dec.tensors)
    if (is_vae_decoder_key(name)) w = scale(w, 1.5f), ++changed_dec;
  for (auto& [name, w] : enc.tensors)
    if (name.rfind("conv1.", 0) == 0) w = scale(w, 1.5f), ++changed_enc;
  ASSERT_GT(changed_dec, 0);
  ASSERT_GT(changed_enc, 0);
  EXPECT_EQ(vae_encoder_hash(m.vae), vae_encoder_hash(VAE::from_tensors(dec)));
  EXPECT_NE(vae_encoder_hash(m.vae), vae_encoder_hash(VAE::from_tensors(enc)));
}

TEST(WorldLatents, ADifferentVaeOrOptionSetNeverReadsTheCache) {
  Models& m = models();
  const fs::path dir = temp_dir("keys");
  VAE other = VAE::init_random(tiny_vae(), 9, VaeInit::random);
  WorldLatentDataset a(m.vae, m.encoder, tokenizer(), small(dir.string()));
  WorldLatentDataset b(other, m.encoder, tokenizer(), small(dir.string()));
  WorldLatentOptions o = small(dir.string());
  o.seed = 5;  // another world
  WorldLatentDataset c(m.vae, m.encoder, tokenizer(), o);
  EXPECT_NE(a.cache_key(), b.cache_key());
  EXPECT_NE(a.cache_key(), c.cache_key());
  EXPECT_NE(vae_encoder_hash(m.vae), vae_encoder_hash(other));
  // New latent statistics keep the key (the cache holds raw mu).
  TensorFile f = m.vae.to_tensors();
  f.metadata["latents_mean"] = "0.5,0.5,0.5";
  f.metadata["latents_std"] = "2,2,2";
  VAE stats = VAE::from_tensors(f);
  WorldLatentDataset d(stats, m.encoder, tokenizer(), small(dir.string()));
  EXPECT_EQ(a.cache_key(), d.cache_key());
  a.get(4);
  b.get(4);
  EXPECT_EQ(b.cache_misses(), 1);
  LatentSample raw = a.get(4), normed = d.get(4);
  EXPECT_EQ(d.cache_hits(), 1);
  std::vector<float> r = raw.latent.to_vector(), n = normed.latent.to_vector();
  for (size_t i = 0; i < r.size(); ++i) EXPECT_NEAR(n[i], (r[i] - 0.5f) / 2.f, 1e-6f);
  fs::remove_all(dir);
}

// The image share decides which indices are images, not what an index shows: a new mix keeps
// the key and reads every entry it draws alike (clips as clips, images as images).
TEST(WorldLatents, ANewImageShareReusesTheEntriesItDrawsAlike) {
  Models& m = models();
  const fs::path dir = temp_dir("share");
  WorldLatentOptions lo = small(dir.string()), hi = small(dir.string());
  lo.image_fraction = 0.25, hi.image_fraction = 0.75;
  WorldLatentDataset a(m.vae, m.encoder, tokenizer(), lo), b(m.vae, m.encoder, tokenizer(), hi);
  EXPECT_EQ(a.cache_key(), b.cache_key());
  int64_t both_clip = -1, both_image = -1, differ = -1;
  for (int64_t i = 0; i < 200; ++i) {
    const bool ia = world_clip_shape(lo.video(), i).image, ib = world_clip_shape(hi.video(), i).image;
    if (!ia && !ib && both_clip < 0) both_clip = i;
    if (ia && ib && both_image < 0) both_image = i;
    if (!ia && ib && differ < 0) differ = i;
  }
  ASSERT_TRUE(both_clip >= 0 && both_image >= 0 && differ >= 0);
  for (int64_t i : {both_clip, both_image, differ}) a.get(i);
  EXPECT_EQ(a.cache_misses(), 3);
  for (int64_t i : {both_clip, both_image}) {
    EXPECT_EQ(a.cache_path(i), b.cache_path(i));
    expect_same(a.get(i), b.get(i));  // b reads a's entry
  }
  EXPECT_EQ(b.cache_hits(), 2);
  EXPECT_NE(a.cache_path(differ), b.cache_path(differ));  // a clip in one mix, an image in the other
  EXPECT_EQ(b.get(differ).latent.shape()[1], 1);
  EXPECT_EQ(b.cache_misses(), 1);
  fs::remove_all(dir);
}

TEST(WorldLatents, WithoutCaptionEncodingGetGivesTheCaptionsTokenIds) {
  Models& m = models();
  WorldLatentOptions o = small();
  WorldLatentDataset encoded(m.vae, m.encoder, tokenizer(), o);
  o.encode_captions = false;
  WorldLatentDataset ids(m.vae, m.encoder, tokenizer(), o);
  LatentSample a = encoded.get(3), b = ids.get(3);
  EXPECT_FALSE(b.context.defined());
  EXPECT_EQ(b.caption_ids, tokenizer().encode(ids.caption(3)));
  EXPECT_EQ(int64_t(b.caption_ids.size()), a.context_len);
  EXPECT_EQ(b.latent.to_vector(), a.latent.to_vector());
  EXPECT_EQ(ids.empty_caption_ids(), std::vector<int32_t>{tokenizer().eos_id()});
}

TEST(WorldLatents, ObjectWeightIsHighestOnTheObjectFlatOnTheBackgroundAndMeanOne) {
  WorldClipPick p;
  p.scene.width = p.scene.height = 32, p.scene.frames = 5;
  Object o;
  o.size = Size::large, o.x = 0.3, o.y = 0.5;  // radius ~5 px at (~10, 16)
  p.scene.objects = {o};
  p.frames = 5, p.crop_w = p.crop_h = 32;
  const Tensor t = object_loss_weight(p, 4, 4, 3);
  ASSERT_EQ(t.shape(), (kinema::Shape{2, 8, 8}));
  const std::vector<float> w = t.to_vector();
  double sum = 0;
  for (float x : w) sum += x;
  EXPECT_NEAR(sum / double(w.size()), 1.0, 1e-5);
  const float centre = w[4 * 8 + 2], corner = w[0 * 8 + 7], later_corner = w[64 + 7 * 8 + 7];
  EXPECT_NEAR(centre / corner, 4.f, 1e-4f);  // 1 + weight on a covered position, 1 on the bare background
  EXPECT_FLOAT_EQ(later_corner, corner);
  EXPECT_FLOAT_EQ(w[64 + 4 * 8 + 2], centre);  // a still object covers the same positions later
  for (float x : object_loss_weight(p, 4, 4, 0).to_vector()) EXPECT_FLOAT_EQ(x, 1.f);
  p.scene.objects.clear();
  for (float x : object_loss_weight(p, 4, 4, 3).to_vector()) EXPECT_FLOAT_EQ(x, 1.f);
  p.crop_w = 30;
  EXPECT_THROW(object_loss_weight(p, 4, 4, 3), Error);
  p.crop_w = 32, p.crop_x = 4;  // past the frame's right edge
  EXPECT_THROW(object_coverage(p, 4, 4), Error);
}

TEST(WorldLatents, GetGivesTheObjectWeightOnTheLatentGridWhenAsked) {
  Models& m = models();
  WorldLatentOptions o = small();
  WorldLatentDataset plain(m.vae, m.encoder, tokenizer(), o);
  o.object_weight = 2;
  WorldLatentDataset weighted(m.vae, m.encoder, tokenizer(), o);
  EXPECT_EQ(weighted.cache_key(), plain.cache_key());  // mu does not change
  EXPECT_FALSE(plain.get(5).loss_weight.defined());
  const LatentSample s = weighted.get(5);
  const kinema::Shape ls = s.latent.shape();
  EXPECT_EQ(s.loss_weight.shape(), (kinema::Shape{ls[1], ls[2], ls[3]}));
  EXPECT_EQ(s.loss_weight.to_vector(), object_loss_weight(weighted.pick(5), 4, 4, 2).to_vector());
  o.object_weight = -1;
  EXPECT_THROW(WorldLatentDataset(m.vae, m.encoder, tokenizer(), o), Error);
}

// A 32x32, 5-frame clip of a large red circle lying on a large blue square at one place, ~(10, 16):
// latent position (4, 2) (x4) is the middle.
WorldClipPick red_circle_over_blue_square() {
  WorldClipPick p;
  p.scene.width = p.scene.height = 32, p.scene.frames = 5;
  Object circle, square;  // one place, ~(10, 16): latent position (4, 2) is the middle
  circle.shape = world::Shape::circle, square.shape = world::Shape::square;
  circle.size = square.size = Size::large;
  circle.x = square.x = 0.3, circle.y = square.y = 0.5;
  circle.color = Color::red, square.color = Color::blue;
  square.layer = -1;  // drawn first: the circle lies on top
  p.scene.objects = {circle, square};
  p.frames = 5, p.crop_w = p.crop_h = 32;
  return p;
}

TEST(WorldLatents, ShapeSharesNameTheShapeOnTopAtEachPositionAndSumToOne) {
  WorldClipPick p = red_circle_over_blue_square();
  const int kCircle = 1 + int(world::Shape::circle), kSquare = 1 + int(world::Shape::square);
  auto at = [](const std::vector<float>& v, int64_t f, int64_t y, int64_t x, int k) {
    return v[size_t(((f * 8 + y) * 8 + x) * 9 + k)];
  };
  const Tensor t = shape_shares(p, 4, 4);
  ASSERT_EQ(t.shape(), (kinema::Shape{2, 8, 8, 9}));
  const std::vector<float> v = t.to_vector();
  for (size_t i = 0; i < v.size(); i += 9) {
    double sum = 0;
    for (int k = 0; k < 9; ++k) sum += v[i + size_t(k)];
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  EXPECT_FLOAT_EQ(at(v, 0, 4, 2, kCircle), 1.f);  // the circle on top of the square
  EXPECT_FLOAT_EQ(at(v, 0, 4, 2, kSquare), 0.f);
  EXPECT_FLOAT_EQ(at(v, 0, 0, 7, 0), 1.f);        // a corner: bare background
  EXPECT_FLOAT_EQ(at(v, 1, 4, 2, kCircle), 1.f);  // still objects: the same later
  // Where the objects cover nothing, the shares say background and nothing else.
  const std::vector<float> cover = object_coverage(p, 4, 4).to_vector();
  for (size_t i = 0; i < cover.size(); ++i)
    if (cover[i] == 0) {
      EXPECT_FLOAT_EQ(v[i * 9], 1.f) << i;
    }
  p.scene.objects[1].layer = 1;  // now the square is drawn last
  const std::vector<float> swapped = shape_shares(p, 4, 4).to_vector();
  EXPECT_GT(at(swapped, 0, 4, 2, kSquare), 0.5f);
  EXPECT_LT(at(swapped, 0, 4, 2, kCircle), 0.5f);
  p.scene.objects.clear();
  const std::vector<float> bare = shape_shares(p, 4, 4).to_vector();
  for (size_t i = 0; i < bare.size(); i += 9) EXPECT_FLOAT_EQ(bare[i], 1.f);
  p.crop_w = 30;
  EXPECT_THROW(shape_shares(p, 4, 4), Error);
}

TEST(WorldLatents, GetGivesShapeLabelsAndTheLayoutOnTheLatentGridWhenAsked) {
  Models& m = models();
  WorldLatentOptions o = small();
  WorldLatentDataset plain(m.vae, m.encoder, tokenizer(), o);
  o.shape_labels = true, o.layout_channels = kLayoutChannels;
  WorldLatentDataset labelled(m.vae, m.encoder, tokenizer(), o);
  EXPECT_EQ(labelled.cache_key(), plain.cache_key());  // mu does not change
  EXPECT_FALSE(plain.get(5).token_labels.defined());
  EXPECT_FALSE(plain.get(5).layout.defined());
  const LatentSample s = labelled.get(5);
  const kinema::Shape ls = s.latent.shape();
  EXPECT_EQ(s.token_labels.shape(), (kinema::Shape{ls[1], ls[2], ls[3], 9}));
  EXPECT_EQ(s.token_labels.to_vector(), shape_shares(labelled.pick(5), 4, 4).to_vector());
  EXPECT_EQ(s.layout.shape(), (kinema::Shape{kLayoutChannels, ls[1], ls[2], ls[3]}));
  EXPECT_EQ(s.layout.to_vector(), object_layout(labelled.pick(5), 4, 4).to_vector());
}

// The layout map (object_layout): per latent position, the top object's share, colour, shape
// and place within it, from the plan alone; bare background is all zeros.
TEST(WorldLatents, ObjectLayoutTellsEachPositionItsTopObjectsColourShapeAndPlace) {
  WorldClipPick p = red_circle_over_blue_square();
  const int64_t K = kLayoutChannels;
  ASSERT_EQ(K, 14);
  auto at = [](const std::vector<float>& v, int64_t k, int64_t f, int64_t y, int64_t x) {
    return v[size_t(((k * 2 + f) * 8 + y) * 8 + x)];
  };
  const Tensor t = object_layout(p, 4, 4);
  ASSERT_EQ(t.shape(), (kinema::Shape{K, 2, 8, 8}));
  const std::vector<float> v = t.to_vector();
  uint8_t red[3], blue[3];
  color_rgb(Color::red, red), color_rgb(Color::blue, blue);
  EXPECT_FLOAT_EQ(at(v, 0, 0, 4, 2), 1.f);  // wholly inside
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(at(v, 1 + c, 0, 4, 2), red[c] / 255.0, 1e-6);
  EXPECT_FLOAT_EQ(at(v, 4 + int(world::Shape::circle), 0, 4, 2), 1.f);
  EXPECT_FLOAT_EQ(at(v, 4 + int(world::Shape::square), 0, 4, 2), 0.f);
  for (int64_t k = 0; k < K; ++k) EXPECT_FLOAT_EQ(at(v, k, 0, 0, 7), 0.f) << k;  // a bare corner
  EXPECT_EQ(at(v, 0, 1, 4, 2), 1.f);  // still objects: the same later
  EXPECT_LT(at(v, 12, 0, 4, 1), 0.f);  // left of the centre: x < 0; right: x > 0
  EXPECT_GT(at(v, 12, 0, 4, 3), 0.f);
  EXPECT_LT(at(v, 13, 0, 2, 2), 0.f);  // above: y < 0
  // Every position the drawn objects cover well lies in the plan.
  const std::vector<float> cover = object_coverage(p, 4, 4).to_vector();
  for (size_t i = 0; i < cover.size(); ++i)
    if (cover[i] == 1.f) {
      EXPECT_GT(v[i], 0.f) << i;
    }
  // The place is in the object's own frame: turned a quarter, (x, y) becomes (y, -x).
  WorldClipPick turned = p;
  for (Object& o : turned.scene.objects) o.angle = M_PI / 2;
  const std::vector<float> r = object_layout(turned, 4, 4).to_vector();
  for (auto [y, x] : {std::pair<int64_t, int64_t>{4, 3}, {3, 1}}) {
    EXPECT_NEAR(at(r, 12, 0, y, x), at(v, 13, 0, y, x), 1e-5);
    EXPECT_NEAR(at(r, 13, 0, y, x), -at(v, 12, 0, y, x), 1e-5);
  }
  p.scene.objects[1].layer = 1;  // now the square is drawn last
  const std::vector<float> swapped = object_layout(p, 4, 4).to_vector();
  EXPECT_FLOAT_EQ(at(swapped, 4 + int(world::Shape::square), 0, 4, 2), 1.f);
  EXPECT_NEAR(at(swapped, 3, 0, 4, 2), blue[2] / 255.0, 1e-6);
  p.crop_w = 30;
  EXPECT_THROW(object_layout(p, 4, 4), Error);
}

TEST(WorldLatents, ObjectLayoutFollowsAMovingObjectAndAWholeSceneMatchesItsFullFramePick) {
  Scene s;
  s.width = s.height = 32, s.frames = 9;
  Object o;
  o.size = Size::small, o.x = 0.25, o.y = 0.5, o.behavior = Behavior::move, o.dir = Dir::right, o.speed = 0.9;
  s.objects = {o};
  const Tensor t = scene_layout(s, 4, 4);  // [K, 3, 8, 8]
  ASSERT_EQ(t.shape(), (kinema::Shape{kLayoutChannels, 3, 8, 8}));
  const std::vector<float> v = t.to_vector();
  auto centre_x = [&](int64_t f) {
    double mass = 0, moment = 0;
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x) mass += v[size_t((f * 8 + y) * 8 + x)], moment += x * v[size_t((f * 8 + y) * 8 + x)];
    return moment / mass;
  };
  EXPECT_GT(centre_x(1), centre_x(0) + 0.3);
  EXPECT_GT(centre_x(2), centre_x(1) + 0.3);
  WorldClipPick p;
  p.scene = s, p.frames = 9, p.crop_w = p.crop_h = 32;
  EXPECT_EQ(object_layout(p, 4, 4).to_vector(), v);
}

TEST(WorldLatents, TrainsTheDiTWithBucketedMicroBatches) {
  Models& m = models();
  WorldLatentDataset data(m.vae, m.encoder, tokenizer(), small());
  DiTConfig c;
  c.dim = 32, c.num_heads = 2, c.num_layers = 1, c.ffn_dim = 64, c.freq_dim = 32;
  c.in_dim = 2 * 3 + 4, c.out_dim = 3, c.text_dim = 16;
  DiT model = DiT::init_random(c, 1);
  TrainerOptions o;
  o.batch_size = 2;
  o.seed = 1;
  DiTTrainer t(model, data, o);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isfinite(t.step().loss));
}

int run(int (*fn)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return fn(int(argv.size()), argv.data());
}

std::string error_of(int (*fn)(int, char**), std::vector<std::string> args) {
  try {
    run(fn, std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WorldLatentsCli, VaeStatsMakesNormalizedLatentsStandard) {
  const fs::path dir = temp_dir("stats");
  fs::create_directories(dir);
  const std::string in = (dir / "vae.safetensors").string(), out = (dir / "vae_stats.safetensors").string();
  save_tensors(in, models().vae.to_tensors());
  ASSERT_EQ(run(cli::cmd_vae, {"vae", "stats", "--vae", in, "--out", out, "--clips", "6", "--frames", "5"}), 0);
  VAE vae = VAE::from_tensors(load_tensors(out));
  ASSERT_EQ(vae.config().latents_mean.size(), 3u);
  // The same clips, normalised: per channel mean ~0, std ~1.
  WorldLatentOptions lo;
  lo.frames = 5;
  const WorldVideoOptions vo = lo.video();
  std::vector<double> sum(3), sq(3);
  double n = 0;
  NoGradGuard no_grad;
  for (int64_t i = 0; i < 6; ++i) {
    const WorldClipPick p = pick_world_clip(vo, i);
    Tensor x = frames_to_tensor(render_window(p.scene, p.first_frame, p.frames), 0, 0, p.crop_w, p.crop_h);
    kinema::Shape s = x.shape();
    s.insert(s.begin(), 1);
    std::vector<float> z = vae.normalize(vae.encode(reshape(x, s)).mu).to_vector();
    const size_t per = z.size() / 3;
    for (size_t ch = 0; ch < 3; ++ch)
      for (size_t j = 0; j < per; ++j) sum[ch] += z[ch * per + j], sq[ch] += double(z[ch * per + j]) * z[ch * per + j];
    n += double(per);
  }
  for (size_t ch = 0; ch < 3; ++ch) {
    const double mean = sum[ch] / n, sd = std::sqrt(sq[ch] / n - mean * mean);
    EXPECT_LT(std::abs(mean), 0.1) << "channel " << ch;
    EXPECT_GT(sd, 0.8) << "channel " << ch;
    EXPECT_LT(sd, 1.2) << "channel " << ch;
  }
  fs::remove_all(dir);
}

TEST(WorldLatentsCli, VaeReconWritesTheBenchmark) {
  const fs::path dir = temp_dir("recon");
  fs::create_directories(dir);
  const std::string vae = (dir / "vae.safetensors").string();
  save_tensors(vae, models().vae.to_tensors());
  ASSERT_EQ(run(cli::cmd_vae, {"vae", "recon", "--vae", vae, "--out", (dir / "r").string(), "--clips", "1",
                               "--frames", "5", "--strips", "1"}), 0);
  EXPECT_TRUE(fs::exists(dir / "r" / "recon_00.png"));
  std::ifstream in(dir / "r" / "recon.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The motion by place (one ratio per place in a group) and the still-group bound beside the PSNR.
  for (const char* key : {"\"psnr_by_frame\"", "\"motion_by_place\"", "\"still_groups_psnr_mean\"",
                          "\"still_groups_psnr_by_frame\""})
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing from " << json;
  fs::remove_all(dir);
}

TEST(WorldLatentsCli, VaeKeyframeWritesAVaeWhoseLatentFramesAreKeyframes) {
  const fs::path dir = temp_dir("keyframe");
  fs::create_directories(dir);
  const std::string vae = (dir / "vae.safetensors").string(), out = (dir / "kf.safetensors").string();
  save_tensors(vae, models().vae.to_tensors());
  ASSERT_EQ(run(cli::cmd_vae, {"vae", "keyframe", "--vae", vae, "--out", out}), 0);
  EXPECT_EQ(load_tensors(out).tensors.size(), load_tensors(vae).tensors.size());
  EXPECT_NE(error_of(cli::cmd_vae, {"vae", "keyframe", "--vae", vae}).find("--out FILE is required"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_vae, {"vae", "keyframe", "--vae", "/nonexistent/v.safetensors", "--out", out})
                .find("no such file: /nonexistent/v.safetensors"), std::string::npos);
  fs::remove_all(dir);
}

TEST(WorldLatentsCli, ErrorsNameTheProblem) {
  EXPECT_NE(error_of(cli::cmd_vae, {"vae", "stats", "--vae", "/nonexistent/v.safetensors", "--out", "/tmp/x"})
                .find("no such file: /nonexistent/v.safetensors"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_vae, {"vae", "stats", "--out", "/tmp/x"}).find("--vae FILE is required"),
            std::string::npos);
  EXPECT_NE(error_of(cli::cmd_vae, {"vae", "recon", "--vae", "/nonexistent/v"}).find("--out DIR is required"),
            std::string::npos);
  EXPECT_NE(error_of(cli::cmd_vae, {"vae", "bogus"}).find("unknown command 'bogus'"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_train, {"train", "dit", "--steps", "1", "--out", "/tmp/kinema_wl_none", "--data",
                                      "world", "--vae", "/nonexistent/vae.safetensors"})
                .find("--vae: no such file: /nonexistent/vae.safetensors"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_train, {"train", "dit", "--steps", "1", "--out", "/tmp/x", "--data", "video"})
                .find("--data must be synthetic or world"), std::string::npos);
}

TEST(WorldLatentsCli, TrainDitOnWorldDataAndPrecompute) {
  const fs::path dir = temp_dir("train");
  fs::create_directories(dir);
  const std::string vae = (dir / "vae.safetensors").string(), enc = (dir / "enc.safetensors").string();
  // A x8 VAE, as the default model's, so the default clip sizes divide.
  VaeConfig vc = tiny_vae();
  vc.dim_mult = {1, 1, 1, 1};
  vc.temporal_downsample = {false, true, true};
  save_tensors(vae, VAE::init_random(vc, 3).to_tensors());
  save_tensors(enc, models().encoder.to_tensors());
  const std::vector<std::string> common = {
      "train", "dit", "--data", "world", "--vae", vae, "--text-encoder", enc, "--out", (dir / "run").string(),
      "--cache", (dir / "cache").string(), "--clips", "6", "--images", "1", "--dim", "32", "--heads", "2",
      "--layers", "1", "--ffn", "64", "--batch", "2", "--steps", "2"};
  std::vector<std::string> pre = common;
  pre.insert(pre.end(), {"--precompute", "4"});
  ASSERT_EQ(run(cli::cmd_train, pre), 0);
  EXPECT_FALSE(fs::exists(dir / "run" / "latest"));
  ASSERT_EQ(run(cli::cmd_train, common), 0);
  // The text encoder trains with the DiT by default: the checkpoint carries both.
  auto [dit_file, text_file] =
      split_text_encoder(load_tensors(find_checkpoint((dir / "run").string()) + "/model.safetensors"));
  DiT model = DiT::from_tensors(dit_file);
  EXPECT_EQ(model.config().out_dim, 3);
  EXPECT_EQ(model.config().in_dim, 3 + 4 + 3);  // frame conditioning on by default
  EXPECT_EQ(model.config().text_dim, 16);
  TextEncoder trained = TextEncoder::from_tensors(text_file);
  EXPECT_NE(trained.weight("token_embedding.weight").to_vector(),
            models().encoder.weight("token_embedding.weight").to_vector());

  std::vector<std::string> more = common;
  more[more.size() - 1] = "3";  // --steps 3
  more.push_back("--resume");
  std::vector<std::string> frozen = more;
  frozen.insert(frozen.end(), {"--train-text-encoder", "0"});
  EXPECT_NE(error_of(cli::cmd_train, frozen).find("holds a text encoder"), std::string::npos);
  ASSERT_EQ(run(cli::cmd_train, more), 0);
  EXPECT_EQ(fs::path(find_checkpoint((dir / "run").string())).filename(), "step-00000003");

  // --train-text-encoder 0: the encoder stays frozen and the checkpoint is the DiT alone.
  std::vector<std::string> plain = common;
  plain[9] = (dir / "plain").string();  // --out
  plain.insert(plain.end(), {"--train-text-encoder", "0"});
  ASSERT_EQ(run(cli::cmd_train, plain), 0);
  EXPECT_NO_THROW(DiT::from_tensors(load_tensors(find_checkpoint((dir / "plain").string()) + "/model.safetensors")));

  // --init: a new run that starts from the first run's weights, its text encoder included
  // (lr 0, so the weights after one step are the ones it started from).
  const std::string from = find_checkpoint((dir / "run").string()) + "/model.safetensors";
  std::vector<std::string> warm = common;
  warm[9] = (dir / "warm").string();  // --out
  warm[warm.size() - 1] = "1";        // --steps
  warm.insert(warm.end(), {"--init", from, "--lr", "0"});
  ASSERT_EQ(run(cli::cmd_train, warm), 0);
  auto [started_dit, started_text] =
      split_text_encoder(load_tensors(find_checkpoint((dir / "warm").string()) + "/model.safetensors"));
  auto [from_dit, from_text] = split_text_encoder(load_tensors(from));
  for (const char* key : {"head.head.weight", "blocks.0.self_attn.q.weight"})
    EXPECT_EQ(started_dit.tensors.at(key).to_vector(), from_dit.tensors.at(key).to_vector()) << key;
  EXPECT_EQ(started_text.tensors.at("token_embedding.weight").to_vector(),
            from_text.tensors.at("token_embedding.weight").to_vector());
  std::vector<std::string> both = warm;
  both.push_back("--resume");
  EXPECT_NE(error_of(cli::cmd_train, both).find("--init starts a new run"), std::string::npos);

  // --layout 1 grows --init's DiT a layout path at zero and trains it on each clip's plan.
  std::vector<std::string> grounded = common;
  grounded[9] = (dir / "grounded").string();  // --out
  grounded.insert(grounded.end(), {"--init", from, "--layout", "1", "--layout-drop", "0", "--lr", "1e-3"});
  ASSERT_EQ(run(cli::cmd_train, grounded), 0);
  auto [grounded_dit, grounded_text] =
      split_text_encoder(load_tensors(find_checkpoint((dir / "grounded").string()) + "/model.safetensors"));
  const DiT planned = DiT::from_tensors(grounded_dit);
  EXPECT_EQ(planned.config().layout_channels, kLayoutChannels);
  const std::vector<float> lw = planned.weight("layout_embedding.weight").to_vector();
  EXPECT_TRUE(std::any_of(lw.begin(), lw.end(), [](float v) { return v != 0; }));  // it trained
  // --layout 2 widens that path with the silhouette channels at zero, keeping the 14 it had
  // (two steps at lr 1e-3 move each weight by about 2e-3 at most), and trains them.
  std::vector<std::string> outlined = grounded;
  outlined[9] = (dir / "outlined").string();
  outlined[outlined.size() - 7] = find_checkpoint((dir / "grounded").string()) + "/model.safetensors";
  outlined[outlined.size() - 5] = "2";
  ASSERT_EQ(run(cli::cmd_train, outlined), 0);
  auto [outlined_dit, outlined_text] =
      split_text_encoder(load_tensors(find_checkpoint((dir / "outlined").string()) + "/model.safetensors"));
  const DiT silhouetted = DiT::from_tensors(outlined_dit);
  EXPECT_EQ(silhouetted.config().layout_channels, kSilhouetteLayoutChannels);
  const Tensor ow = silhouetted.weight("layout_embedding.weight");  // [dim, K, 1, 2, 2]
  const int64_t per = ow.shape()[2] * ow.shape()[3] * ow.shape()[4];
  const std::vector<float> owv = ow.to_vector();
  double kept = 0, grown = 0;
  for (int64_t o = 0; o < ow.shape()[0]; ++o)
    for (int64_t k = 0; k < kSilhouetteLayoutChannels; ++k)
      for (int64_t j = 0; j < per; ++j) {
        const float w = owv[size_t((o * kSilhouetteLayoutChannels + k) * per + j)];
        if (k < kLayoutChannels) kept = std::max(kept, double(std::abs(w - lw[size_t((o * kLayoutChannels + k) * per + j)])));
        else grown = std::max(grown, double(std::abs(w)));
      }
  EXPECT_LT(kept, 3e-3);
  EXPECT_GT(grown, 0);
  EXPECT_LT(grown, 3e-3);
  std::vector<std::string> narrower = outlined;  // a silhouette path cannot shrink back
  narrower[9] = (dir / "narrower").string();
  narrower[narrower.size() - 7] = find_checkpoint((dir / "outlined").string()) + "/model.safetensors";
  narrower[narrower.size() - 5] = "1";
  EXPECT_NE(error_of(cli::cmd_train, narrower).find("--init's layout path has 30 channels"), std::string::npos);
  std::vector<std::string> bad = grounded;
  bad[bad.size() - 5] = "3";  // --layout 3
  EXPECT_NE(error_of(cli::cmd_train, bad).find("--layout must be 0, 1 or 2"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_train, {"train", "dit", "--steps", "1", "--out", "/tmp/x", "--layout", "1"})
                .find("--layout needs --data world"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema::world

namespace kinema::world {
namespace {

// Costs on the default model's shapes (not part of the suite): run with
//   KINEMA_VAE=path/to/vae.safetensors test_world_latents --gtest_also_run_disabled_tests
//   --gtest_filter='*MeasureCosts*' (one line)
// A random-init text encoder of the default width stands in when KINEMA_TEXT_ENCODER is unset.
TEST(WorldLatentsCost, DISABLED_MeasureCosts) {
  const char* vae_path = std::getenv("KINEMA_VAE");
  if (!vae_path) GTEST_SKIP() << "set KINEMA_VAE";
  VAE vae = VAE::from_tensors(load_tensors(vae_path));
  TextEncoderConfig tc = tiny_encoder();
  tc.dim = 256, tc.dim_attn = 256, tc.ffn_dim = 1024, tc.num_heads = 4, tc.num_layers = 3;
  const char* enc_path = std::getenv("KINEMA_TEXT_ENCODER");
  TextEncoder encoder = enc_path ? TextEncoder::from_tensors(load_tensors(enc_path)) : TextEncoder::init_random(tc, 1);
  int64_t params = 0;
  for (const Tensor& p : encoder.parameters()) params += p.numel();
  const fs::path dir = temp_dir("cost");
  WorldLatentOptions o;
  o.cache_dir = dir.string();
  WorldLatentDataset d(vae, encoder, tokenizer(), o);
  double enc_s = 0, text_s = 0, render_s = 0, hit_s = 0;
  int clips = 0, images = 0, caps = 0;
  int64_t tokens = 0;
  uintmax_t bytes_clip = 0, bytes_image = 0;
  for (int64_t i = 0; clips < 6 || images < 3; ++i) {
    const bool image = d.pick(i).frames == 1;
    if (image ? images >= 3 : clips >= 6) continue;
    auto t0 = std::chrono::steady_clock::now();
    d.clip(i);
    auto t1 = std::chrono::steady_clock::now();
    d.mu(i);
    auto t2 = std::chrono::steady_clock::now();
    d.mu(i);
    auto t3 = std::chrono::steady_clock::now();
    if (!image) {
      render_s += std::chrono::duration<double>(t1 - t0).count();
      enc_s += std::chrono::duration<double>(t2 - t1).count() - std::chrono::duration<double>(t1 - t0).count();
      hit_s += std::chrono::duration<double>(t3 - t2).count();
      bytes_clip = fs::file_size(d.cache_path(i));
      ++clips;
    } else {
      bytes_image = fs::file_size(d.cache_path(i));
      ++images;
    }
  }
  for (int64_t i = 0; i < 20; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    int64_t len = 0;
    d.context(i, &len);
    text_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    tokens += len, ++caps;
  }
  std::printf("render 25 frames: %.3f s/clip; VAE encode (25 frames, mixed sizes): %.3f s/clip; cache read %.4f s/clip\n"
              "text encoder (%lld params): %.4f s/caption (mean %.1f tokens)\n"
              "cache entry: %ju bytes per 25-frame clip, %ju per image\n",
              render_s / clips, enc_s / clips, hit_s / clips, static_cast<long long>(params), text_s / caps,
              double(tokens) / caps, bytes_clip, bytes_image);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema::world
