// measure_text_use (kinema/text_use.hpp): the DiT's flow loss on fresh world clips with their
// own, another clip's and the empty caption. The noise of clip i at level t is the same for the
// three captions, so the differences are the caption's alone.
#include "kinema/text_use.hpp"

#include <random>

#include "generate/internal.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/world.hpp"
#include "kinema/world_latents.hpp"

namespace kinema {
namespace {

struct Clip {
  Tensor z0;  // normalised latent [1, C, T', h, w]
  std::string caption, swapped, mirrored;  // every shape named as the next one; every object mirrored
  std::vector<float> cover;                // object coverage of each latent position [T' h w]
};

world::Scene next_shapes(world::Scene s) {
  for (world::Object& o : s.objects) o.shape = world::Shape((int(o.shape) + 1) % world::kShapeCount);
  return s;
}

// The scene turned half a turn about the frame's centre: its caption places every object in the
// opposite part of the frame (top left <-> bottom right), relations the other way round.
world::Scene mirrored(world::Scene s) {
  const double aspect = double(s.width) / double(s.height);
  for (world::Object& o : s.objects) o.x = aspect - o.x, o.y = 1 - o.y;
  return s;
}

std::vector<float> coverage(const Pipeline& p, const world::WorldClipPick& pick) {
  const VaeConfig& c = p.vae().config();
  return world::object_coverage(pick, c.spatial_compression(), c.temporal_compression()).to_vector();
}

Clip world_clip(const Pipeline& p, uint64_t seed, const TextUseOptions& o) {
  const world::Scene scene = world::sample_scene(seed, {o.width, o.height, o.fps, o.frames});
  std::vector<Frame> frames;
  for (const world::Image& im : world::render(scene)) frames.push_back(Frame{im.width, im.height, im.rgb});
  const world::WorldClipPick pick{scene, 0, scene.frames, 0, 0, scene.width, scene.height};
  return {p.vae().normalize(p.vae().encode(detail::frames_to_video(frames)).mu),
          world::detailed_caption(scene, seed), world::detailed_caption(next_shapes(scene), seed),
          world::detailed_caption(mirrored(scene), seed), coverage(p, pick)};
}

// Index i of the world training set: the dataset's own normalised latent, as the trainer gets it.
Clip training_clip(const Pipeline& p, const world::WorldLatentDataset& data, int64_t index) {
  const Tensor z = data.get(index).latent;
  Shape batched = z.shape();
  batched.insert(batched.begin(), 1);
  const world::WorldClipPick pick = data.pick(index);
  return {reshape(z, batched), data.caption(index), data.caption(index, next_shapes(pick.scene)),
          data.caption(index, mirrored(pick.scene)), coverage(p, pick)};
}

struct SquareError {
  double all = 0, objects = 0;  // mean square over every position, and over the objects' (coverage-weighted)
  std::vector<float> v;         // the velocity predicted
};

// Mean square of a - b per latent frame t', both [1, C, T', h, w].
std::vector<double> mean_square_by_frame(const std::vector<float>& a, const std::vector<float>& b, const Shape& s) {
  const int64_t C = s[1], T = s[2], plane = s[3] * s[4];
  std::vector<double> out(size_t(T), 0);
  for (int64_t i = 0; i < C * T * plane; ++i) {
    const double d = double(a[size_t(i)]) - b[size_t(i)];
    out[size_t(i / plane % T)] += d * d;
  }
  for (double& v : out) v /= double(C * plane);
  return out;
}

// fo: no frame given (zeros in the conditioning slot, when the DiT has one).
SquareError velocity_error(const DiT& dit, const DiTForwardOptions& fo, const Tensor& xt, float t, const Tensor& context,
                      const Tensor& target, const std::vector<float>& cover) {
  const std::vector<float> v = dit.forward(xt, Tensor::from_vector({1000.f * t}, {1}),
                                           reshape(context, {1, context.size(0), context.size(1)}), fo)
                                   .to_vector();
  const std::vector<float> y = target.to_vector();
  double sum = 0, object_sum = 0, covered = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const double e = (double(v[i]) - y[i]) * (double(v[i]) - y[i]), c = cover[i % cover.size()];
    sum += e, object_sum += c * e, covered += c;
  }
  return {sum / double(v.size()), covered > 0 ? object_sum / covered : 0, v};
}

}  // namespace

std::vector<TextUseRow> measure_text_use(const Pipeline& p, const TextUseOptions& o) {
  check(o.clips >= 2, "text-use", "needs at least 2 clips (each is also judged with another's caption); got ",
        o.clips);
  check(!o.t.empty(), "text-use", "give at least one noise level");
  for (float t : o.t) check(t > 0 && t < 1, "text-use", "noise levels must lie in (0, 1); got ", t);
  NoGradGuard no_grad;
  const int64_t max_len = p.manifest().max_text_len;
  std::vector<Clip> clips;
  std::vector<Tensor> own, swapped, mirror;
  std::optional<world::WorldLatentDataset> training;
  if (o.training_index) {
    check(*o.training_index >= 0, "text-use", "the first training-set index must be >= 0; got ",
          *o.training_index);
    world::WorldLatentOptions wo;
    wo.count = *o.training_index + o.clips;
    wo.encode_captions = false;  // get() then skips the text encoder; captions are encoded below
    training.emplace(p.vae(), p.text_encoder(), p.tokenizer(), wo);
  }
  for (int i = 0; i < o.clips; ++i) {
    clips.push_back(training ? training_clip(p, *training, *o.training_index + i)
                             : world_clip(p, o.seed + uint64_t(i), o));
    own.push_back(encode_caption(p.tokenizer(), p.text_encoder(), clips.back().caption, max_len));
    swapped.push_back(encode_caption(p.tokenizer(), p.text_encoder(), clips.back().swapped, max_len));
    mirror.push_back(encode_caption(p.tokenizer(), p.text_encoder(), clips.back().mirrored, max_len));
  }
  const Tensor empty = encode_caption(p.tokenizer(), p.text_encoder(), "", max_len);
  std::vector<TextUseRow> rows;
  std::mt19937_64 gen(o.seed);
  std::normal_distribution<float> normal;
  for (float t : o.t) {
    TextUseRow r;
    r.t = t;
    std::vector<int> frames_seen;  // clips long enough to have each latent frame
    for (size_t i = 0; i < clips.size(); ++i) {
      const std::vector<float> z = clips[i].z0.to_vector();
      std::vector<float> xt(z.size()), v(z.size());
      for (size_t k = 0; k < z.size(); ++k) {
        const float eps = normal(gen);
        xt[k] = (1 - t) * z[k] + t * eps, v[k] = eps - z[k];
      }
      const Tensor x = Tensor::from_vector(xt, clips[i].z0.shape()), target = Tensor::from_vector(v, x.shape());
      DiTForwardOptions fo;
      fo.condition = no_frame_condition(p.dit().config(), x.shape());
      const std::vector<float>& cover = clips[i].cover;
      const SquareError mine = velocity_error(p.dit(), fo, x, t, own[i], target, cover);
      const SquareError renamed = velocity_error(p.dit(), fo, x, t, swapped[i], target, cover);
      r.own += mine.all, r.object_own += mine.objects;
      r.swapped += renamed.all, r.object_swapped += renamed.objects;
      r.object_mirrored += velocity_error(p.dit(), fo, x, t, mirror[i], target, cover).objects;
      r.other += velocity_error(p.dit(), fo, x, t, own[(i + 1) % own.size()], target, cover).all;
      const SquareError unguided = velocity_error(p.dit(), fo, x, t, empty, target, cover);
      r.empty += unguided.all;
      const std::vector<double> loss = mean_square_by_frame(mine.v, v, x.shape()),
                                guidance = mean_square_by_frame(mine.v, unguided.v, x.shape());
      if (frames_seen.size() < loss.size())
        frames_seen.resize(loss.size(), 0), r.own_by_frame.resize(loss.size(), 0), r.guidance_by_frame.resize(loss.size(), 0);
      for (size_t f = 0; f < loss.size(); ++f)
        r.own_by_frame[f] += loss[f], r.guidance_by_frame[f] += guidance[f], ++frames_seen[f];
    }
    for (size_t f = 0; f < r.own_by_frame.size(); ++f)
      r.own_by_frame[f] /= frames_seen[f], r.guidance_by_frame[f] /= frames_seen[f];
    for (double* v : {&r.own, &r.other, &r.empty, &r.swapped, &r.object_own, &r.object_swapped, &r.object_mirrored})
      *v /= double(clips.size());
    rows.push_back(r);
  }
  return rows;
}

}  // namespace kinema
