// `kinema vae stats|recon|widen|inflate|keyframe ...`: the latent normalisation statistics the DiT
// trains on, the VAE quality benchmark (PSNR and the world judge on held-out clips, with PNG
// strips), a twice-as-wide VAE computing the same function, an image VAE readied for video
// training, and a video VAE whose latent frames are keyframes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "commands.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/vae.hpp"
#include "kinema/vae_train.hpp"
#include "kinema/world.hpp"
#include "kinema/world_latents.hpp"
#include "kinema/world_video.hpp"
#include "option_table.hpp"

namespace fs = std::filesystem;

namespace kinema::cli {
namespace {

struct VaeCmdCli {
  std::string vae, out;
  int64_t clips = 200;
  int64_t frames = 25;
  float images = 0.25f;
  int64_t seed = 1;
  int64_t strips = 3;
  bool decoder_only = false;
};

#define KI KINEMA_OPT_INT
#define KF KINEMA_OPT_FLOAT
#define KS KINEMA_OPT_STRING
const std::vector<Option<VaeCmdCli>>& stats_options() {
  static const std::vector<Option<VaeCmdCli>> table = {
      {"--vae", "FILE", "the VAE (safetensors) to measure", KS(vae)},
      {"--out", "FILE", "where to write the VAE with latents_mean/latents_std metadata (may equal --vae)", KS(out)},
      {"--clips", "N", "world clips to encode (the latent set's first N indices)", KI(clips)},
      {"--frames", "T", "frames per clip (1 + k x temporal compression)", KI(frames)},
      {"--images", "P", "share of one-frame images, as in the latent set", KF(images)},
      {"--data-seed", "N", "world seed, as in the latent set", KI(seed)},
  };
  return table;
}
const std::vector<Option<VaeCmdCli>>& widen_options() {
  static const std::vector<Option<VaeCmdCli>> table = {
      {"--vae", "FILE", "the VAE (safetensors) to widen", KS(vae)},
      {"--out", "FILE", "where to write the VAE of twice the width", KS(out)},
      {"--seed", "N", "draws how each input weight is split between its two copies", KI(seed)},
      {"--decoder-only", "", "widen the decoder alone (for kinema train vae --decoder-only); the encoder stays as it is", KINEMA_OPT_FLAG(decoder_only)},
  };
  return table;
}
const std::vector<Option<VaeCmdCli>>& inflate_options() {
  static const std::vector<Option<VaeCmdCli>> table = {
      {"--vae", "FILE", "the VAE (safetensors) trained on images only (train vae --frames 1 --images 1)", KS(vae)},
      {"--out", "FILE", "where to write the VAE with its time-mixing weights the identity", KS(out)},
  };
  return table;
}
const std::vector<Option<VaeCmdCli>>& keyframe_options() {
  static const std::vector<Option<VaeCmdCli>> table = {
      {"--vae", "FILE", "the video VAE (safetensors) whose latent frames average their groups", KS(vae)},
      {"--out", "FILE", "where to write the keyframe VAE", KS(out)},
  };
  return table;
}
const std::vector<Option<VaeCmdCli>>& recon_options() {
  static const std::vector<Option<VaeCmdCli>> table = {
      {"--vae", "FILE", "the VAE (safetensors) to benchmark", KS(vae)},
      {"--out", "DIR", "PNG strips (original | decoded) and recon.json", KS(out)},
      {"--clips", "N", "held-out world clips at 128x128", KI(clips)},
      {"--frames", "T", "frames per clip (1 + k x temporal compression)", KI(frames)},
      {"--strips", "K", "write a side-by-side PNG strip for the first K clips", KI(strips)},
      {"--data-seed", "N", "seed of the held-out scene draw", KI(seed)},
  };
  return table;
}
#undef KI
#undef KF
#undef KS

TensorFile load_vae_file(const std::string& path, const char* who) {
  check(!path.empty(), who, "--vae FILE is required");
  check(fs::is_regular_file(path), who, "--vae: no such file: ", path);
  TensorFile f = load_tensors(path);
  check(is_vae_checkpoint(f.tensors), who, "--vae: ", path, " is not a VAE checkpoint");
  return f;
}

// Writes through a temporary file and a rename, so a crash never leaves half a file at `path`
// (and --out may name the --vae file itself).
void save_vae_file(const std::string& path, const TensorFile& file) {
  const fs::path out(path);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  save_tensors(tmp, file);
  fs::rename(tmp, out);
}

Tensor batch_of_one(const Tensor& x) {
  Shape s = x.shape();
  s.insert(s.begin(), 1);
  return reshape(x, s);
}

// Mean posterior sigma over the spread of mu, per channel, averaged: how much of the latent the
// sampling noise of training hides (0: none; near 1: the decoder learns to ignore the latent).
double posterior_noise_ratio(const VaeLatent& lat) {
  const std::vector<float> mu = lat.mu.to_vector(), logvar = lat.logvar.to_vector();
  const int64_t channels = lat.mu.shape()[1], per = lat.mu.numel() / channels;
  double ratio = 0;
  for (int64_t ch = 0; ch < channels; ++ch) {
    double s = 0, ss = 0, sigma = 0;
    for (int64_t i = ch * per; i < (ch + 1) * per; ++i) {
      s += mu[size_t(i)], ss += double(mu[size_t(i)]) * mu[size_t(i)];
      sigma += std::exp(0.5 * double(logvar[size_t(i)]));
    }
    const double m = s / double(per), sd = std::sqrt(std::max(1e-12, ss / double(per) - m * m));
    ratio += sigma / double(per) / sd;
  }
  return ratio / double(channels);
}

std::string join(const std::vector<float>& v) {
  std::string out;
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", double(v[i]));
    out += buf;
  }
  return out;
}

// [3, T, H, W] in [-1, 1] -> T images (rounded, clamped as a written video would be).
std::vector<world::Image> to_images(const Tensor& video) {
  const int64_t T = video.size(1), H = video.size(2), W = video.size(3);
  const std::vector<float> v = video.to_vector();
  std::vector<world::Image> out(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    world::Image& im = out[size_t(t)];
    im.width = int(W), im.height = int(H);
    im.rgb.resize(size_t(W * H * 3));
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const float f = v[size_t(((ch * T + t) * H + y) * W + x)];
          im.rgb[size_t((y * W + x) * 3 + ch)] =
              uint8_t(std::clamp(std::lround((f + 1.f) * 127.5f), 0L, 255L));
        }
  }
  return out;
}

int vae_stats(int argc, char** argv) {
  VaeCmdCli c;
  if (!parse_options(stats_options(), argc, argv, c, "vae stats")) {
    std::printf(
        "usage: kinema vae stats --vae IN --out OUT [--clips N]\n\n"
        "Encodes N world clips of the latent set (whole frames, its sizes and image share) and writes the\n"
        "per-channel mean and std of the VAE's mu into OUT's latents_mean / latents_std metadata, so\n"
        "VAE::normalize maps latents to zero mean and unit variance per channel.\n\n");
    print_options(stats_options());
    return 0;
  }
  check(!c.out.empty(), "vae stats", "--out FILE is required");
  check(c.clips > 0, "vae stats", "--clips must be positive; got ", c.clips);
  TensorFile file = load_vae_file(c.vae, "vae stats");
  VAE vae = VAE::from_tensors(file);
  world::WorldLatentOptions lo;
  lo.frames = int(c.frames), lo.image_fraction = c.images, lo.seed = uint64_t(c.seed);
  const world::WorldVideoOptions vo = lo.video();
  const int64_t Z = vae.config().z_dim, s = vae.config().spatial_compression(),
                tc = vae.config().temporal_compression();
  check(c.frames >= 1 && (c.frames - 1) % tc == 0, "vae stats", "--frames must be 1 + k x ", tc, "; got ", c.frames);
  for (const auto& [w, h] : vo.sizes)
    check(w % s == 0 && h % s == 0, "vae stats", "clip size ", w, "x", h, " is not a multiple of the VAE's ", s);

  std::vector<double> sum(static_cast<size_t>(Z), 0.0), sq(static_cast<size_t>(Z), 0.0);
  double count = 0;
  NoGradGuard no_grad;
  for (int64_t i = 0; i < c.clips; ++i) {
    const world::WorldClipPick p = world::pick_world_clip(vo, i);
    Tensor clip = world::frames_to_tensor(world::render_window(p.scene, p.first_frame, p.frames),
                                          p.crop_x, p.crop_y, p.crop_w, p.crop_h);
    Tensor mu = vae.encode(batch_of_one(clip)).mu;
    const std::vector<float> v = mu.to_vector();
    const size_t per = v.size() / size_t(Z);
    for (size_t ch = 0; ch < size_t(Z); ++ch)
      for (size_t j = 0; j < per; ++j) {
        const double x = v[ch * per + j];
        sum[ch] += x, sq[ch] += x * x;
      }
    count += double(per);
    std::fprintf(stderr, "\rvae stats: %lld/%lld clips", static_cast<long long>(i + 1),
                 static_cast<long long>(c.clips));
  }
  std::fprintf(stderr, "\n");
  std::vector<float> mean(static_cast<size_t>(Z)), stdv(static_cast<size_t>(Z));
  std::printf("channel      mean       std\n");
  for (size_t ch = 0; ch < size_t(Z); ++ch) {
    const double m = sum[ch] / count, var = std::max(0.0, sq[ch] / count - m * m);
    mean[ch] = float(m), stdv[ch] = float(std::max(std::sqrt(var), 1e-6));
    std::printf("%7zu %9.4f %9.4f\n", ch, double(mean[ch]), double(stdv[ch]));
  }
  file.metadata["latents_mean"] = join(mean);
  file.metadata["latents_std"] = join(stdv);
  VAE::from_tensors(file);  // the metadata must load back
  save_vae_file(c.out, file);
  std::printf("wrote %s (latents_mean, latents_std over %lld clips)\n", c.out.c_str(),
              static_cast<long long>(c.clips));
  return 0;
}

int vae_widen(int argc, char** argv) {
  VaeCmdCli c;
  if (!parse_options(widen_options(), argc, argv, c, "vae widen")) {
    std::printf(
        "usage: kinema vae widen --vae IN --out OUT [--decoder-only] [--seed N]\n\n"
        "Writes IN at twice the width (every stage's channels doubled; with --decoder-only the\n"
        "decoder's alone) computing the same function: the same latents and decodes, with the capacity\n"
        "to learn more. For a VAE a DiT was trained on, widen --decoder-only and train with\n"
        "`kinema train vae --decoder-only --init OUT`: the encoder, the latent space and the DiT's\n"
        "latent cache stay as they are (a whole widen changes the encoder's weights, so the cache is\n"
        "rebuilt). Wan2.1-layout VAEs on plain pixels (kinema's default).\n\n");
    print_options(widen_options());
    return 0;
  }
  check(!c.out.empty(), "vae widen", "--out FILE is required");
  const TensorFile file = load_vae_file(c.vae, "vae widen");
  const TensorFile wide = widen_vae(file, uint64_t(c.seed), c.decoder_only);
  save_vae_file(c.out, wide);
  const VaeConfig n = VAE::from_tensors(file).config(), w = VAE::from_tensors(wide).config();
  std::printf("wrote %s: encoder width %lld -> %lld, decoder width %lld -> %lld; the same latents and decodes\n",
              c.out.c_str(), static_cast<long long>(n.dim), static_cast<long long>(w.dim),
              static_cast<long long>(n.decoder_width()), static_cast<long long>(w.decoder_width()));
  return 0;
}

int vae_inflate(int argc, char** argv) {
  VaeCmdCli c;
  if (!parse_options(inflate_options(), argc, argv, c, "vae inflate")) {
    std::printf(
        "usage: kinema vae inflate --vae IN --out OUT\n\n"
        "Readies a VAE trained on images only for video training. Images train the spatial path\n"
        "~25x faster than 25-frame clips but never the weights that mix frames, which keep their\n"
        "random init; inflation sets them to the identity in time, so OUT encodes and decodes\n"
        "images exactly as IN and a still video as the image in every frame. Then train on clips:\n"
        "`kinema train vae --init OUT --frames 25 ...` (docs/train.md). Inflating a VAE that was\n"
        "trained on video discards what it learned about motion.\n\n");
    print_options(inflate_options());
    return 0;
  }
  check(!c.out.empty(), "vae inflate", "--out FILE is required");
  const TensorFile inflated = inflate_vae_time(load_vae_file(c.vae, "vae inflate"));
  save_vae_file(c.out, inflated);
  std::printf("wrote %s: time-mixing weights set to the identity; images unchanged\n", c.out.c_str());
  return 0;
}

// The judge may word or count claims differently on other frames: match them by what they
// assert (world::claim_key: kind and text, measured values apart); a claim the decoded frames
// lack does not pass. per_kind[kind] += {kept, passed originally}.
struct ClaimsKept {
  int64_t passed_original = 0, passed_decoded = 0, kept = 0;
  std::string lost;  // "kind: text; ..." of the claims the decode broke
};
ClaimsKept claims_kept(const world::Scorecard& original, const world::Scorecard& decoded,
                       std::map<std::string, std::pair<int64_t, int64_t>>& per_kind) {
  ClaimsKept r;
  std::map<std::string, int> passed_decoded;
  for (const world::Claim& k : decoded.claims)
    r.passed_decoded += k.pass, passed_decoded[world::claim_key(k)] += k.pass;
  for (const world::Claim& k : original.claims) {
    if (!k.pass) continue;
    ++r.passed_original;
    ++per_kind[k.kind].second;
    int& n = passed_decoded[world::claim_key(k)];
    if (n > 0) ++r.kept, ++per_kind[k.kind].first, --n;
    else r.lost += (r.lost.empty() ? "" : "; ") + k.kind + ": " + k.text;
  }
  return r;
}

// DIR/recon_NN.png: every 4th frame, original | decoded side by side.
void write_recon_strip(const fs::path& dir, int64_t clip, const std::vector<world::Image>& frames,
                       const std::vector<world::Image>& decoded) {
  std::vector<world::Image> strip;
  for (size_t t = 0; t < frames.size(); t += 4) {
    world::Image im;
    im.width = 2 * frames[t].width, im.height = frames[t].height;
    im.rgb.resize(size_t(im.width) * size_t(im.height) * 3);
    const size_t row_bytes = size_t(frames[t].width) * 3;
    for (int r = 0; r < im.height; ++r) {
      std::copy_n(frames[t].rgb.begin() + ptrdiff_t(r * row_bytes), row_bytes, im.rgb.begin() + ptrdiff_t(2 * r * row_bytes));
      std::copy_n(decoded[t].rgb.begin() + ptrdiff_t(r * row_bytes), row_bytes,
                  im.rgb.begin() + ptrdiff_t((2 * r + 1) * row_bytes));
    }
    strip.push_back(std::move(im));
  }
  char name[32];
  std::snprintf(name, sizeof name, "recon_%02lld.png", static_cast<long long>(clip));
  world::write_png_strip((dir / name).string(), strip);
}

// Where in time the PSNR goes: frame 0 (encoded alone), each place in a latent frame's group of
// tc frames, and each latent frame; every figure the PSNR of the mean squared error over clips.
std::string psnr_by_frame(const std::vector<double>& frame_mse, int64_t tc, std::string& json) {
  auto mean_db = [&](auto&& pick) {
    double s = 0;
    int64_t n = 0;
    for (size_t t = 0; t < frame_mse.size(); ++t)
      if (pick(int64_t(t))) s += frame_mse[t], ++n;
    return n ? psnr_of_mse(s / double(n)) : 0.0;
  };
  char buf[64];
  std::string text = "PSNR by frame: frame 0 ";
  std::snprintf(buf, sizeof buf, "%.2f dB; place in each group of %lld:", mean_db([](int64_t t) { return t == 0; }),
                static_cast<long long>(tc));
  text += buf;
  for (int64_t k = 0; k < tc && frame_mse.size() > 1; ++k) {
    std::snprintf(buf, sizeof buf, " %.2f", mean_db([&](int64_t t) { return t > 0 && (t - 1) % tc == k; }));
    text += buf;
  }
  text += "; latent frames 1..:";
  for (int64_t g = 0; 1 + g * tc < int64_t(frame_mse.size()); ++g) {
    std::snprintf(buf, sizeof buf, " %.2f", mean_db([&](int64_t t) { return t > 0 && (t - 1) / tc == g; }));
    text += buf;
  }
  json.clear();
  for (size_t t = 0; t < frame_mse.size(); ++t) {
    std::snprintf(buf, sizeof buf, "%s%.3f", t ? ", " : "", psnr_of_mse(frame_mse[t]));
    json += buf;
  }
  return text;
}

int vae_keyframe(int argc, char** argv) {
  VaeCmdCli c;
  if (!parse_options(keyframe_options(), argc, argv, c, "vae keyframe")) {
    std::printf(
        "usage: kinema vae keyframe --vae IN --out OUT\n\n"
        "Makes each latent frame the last frame of its group of 4 (a keyframe, as sharp as an image)\n"
        "instead of about their mean, and starts the decoder interpolating between keyframes. A VAE\n"
        "trained from `vae inflate` averages each group, so moving objects decode blurred and still\n"
        "for 4 frames (`vae recon` shows its PSNR by place next to drawing each group as its mean).\n"
        "Then train the decoder on the keyframes: `kinema train vae --decoder-only --init OUT ...`\n"
        "(docs/train.md). OUT is a new latent space: a DiT must be trained on its latents.\n\n");
    print_options(keyframe_options());
    return 0;
  }
  check(!c.out.empty(), "vae keyframe", "--out FILE is required");
  save_vae_file(c.out, keyframe_vae_time(load_vae_file(c.vae, "vae keyframe")));
  std::printf("wrote %s: latent frames are keyframes; the decoder interpolates between them\n", c.out.c_str());
  return 0;
}

// How much the decoded clips move against the originals at each place in a group: the sums of
// mean |x_{t+1} - x_t| over clips, decoded / original, for the change into each place (place 1:
// from the previous group's last frame, or frame 0). A VAE that draws one frame per latent frame
// reads > 1 there and < 1 inside the group: motion in jumps of tc frames (a stutter).
std::string motion_by_place(const std::vector<double>& decoded, const std::vector<double>& original, int64_t tc,
                            std::string& json) {
  std::string text = "frame-to-frame change, decoded / original, into each place of a group:";
  json.clear();
  char buf[64];
  for (int64_t k = 0; k < tc; ++k) {
    double d = 0, o = 0;
    for (size_t t = 0; t < decoded.size(); ++t)
      if (int64_t(t) % tc == k) d += decoded[t], o += original[t];
    const double ratio = o > 0 ? d / o : 0.0;
    std::snprintf(buf, sizeof buf, " %.2f", ratio);
    text += buf;
    std::snprintf(buf, sizeof buf, "%s%.4f", k ? ", " : "", ratio);
    json += buf;
  }
  return text + " (1: the original's motion; a stutter is > 1 at place 1 and < 1 after)";
}

int vae_recon(int argc, char** argv) {
  VaeCmdCli c;
  c.clips = 20;
  if (!parse_options(recon_options(), argc, argv, c, "vae recon")) {
    std::printf(
        "usage: kinema vae recon --vae FILE --out DIR [--clips N]\n\n"
        "The VAE quality benchmark: N held-out world clips (never in training) at 128x128 x --frames,\n"
        "encoded and decoded with causal chunking. Reports PSNR (target >= 32 dB) and the share of the\n"
        "world judge's claims that pass on the original frames and still pass on the decoded ones\n"
        "(target >= 98%%); writes DIR/recon_NN.png (original | decoded, every 4th frame) and DIR/recon.json.\n\n");
    print_options(recon_options());
    return 0;
  }
  check(!c.out.empty(), "vae recon", "--out DIR is required");
  check(c.clips > 0, "vae recon", "--clips must be positive; got ", c.clips);
  VAE vae = VAE::from_tensors(load_vae_file(c.vae, "vae recon"));
  const int64_t tc = vae.config().temporal_compression();
  check(c.frames >= 1 && (c.frames - 1) % tc == 0, "vae recon", "--frames must be 1 + k x ", tc, "; got ", c.frames);
  check(128 % vae.config().spatial_compression() == 0, "vae recon", "128 is not a multiple of the VAE's ",
        vae.config().spatial_compression());
  fs::create_directories(c.out);
  VaeRunOptions run;
  run.chunking = VaeChunking::causal;
  NoGradGuard no_grad;
  double psnr_sum = 0, psnr_min = 1e9, seconds = 0, noise_sum = 0;
  int64_t claims_orig = 0, claims_dec = 0, still = 0, claims_total = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> per_kind;  // kind -> {kept, passed originally}
  std::string rows;
  std::vector<double> frame_mse;  // mean over clips, per frame
  std::vector<double> change_decoded, change_original;  // summed over clips, per transition
  std::vector<double> still_mse;  // the group-mean bound's, mean over clips, per frame
  double still_psnr_sum = 0;
  uint64_t seed = uint64_t(c.seed) * 1000003ull;
  for (int64_t i = 0; i < c.clips; ++i) {
    world::Scene scene;
    for (int tries = 0;; ++tries) {
      check(tries < 100000, "vae recon", "no held-out scene found");
      scene = world::sample_scene(seed++, world::SampleOptions{128, 128, 12, int(c.frames)});
      if (world::is_held_out(scene)) break;
    }
    const std::vector<world::Image> frames = world::render(scene);
    Tensor x = world::frames_to_tensor(frames, 0, 0, 128, 128);
    const auto t0 = std::chrono::steady_clock::now();
    const VaeLatent lat = vae.encode(batch_of_one(x), run);
    Tensor y = vae.decode(lat.mu, run);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    noise_sum += posterior_noise_ratio(lat);
    y = reshape(y, x.shape());
    // A clip's per-frame errors into the means over clips; its PSNR is that of their mean (psnr()).
    auto add_clip = [&](const std::vector<double>& fe, std::vector<double>& mean_by_frame) {
      mean_by_frame.resize(fe.size(), 0.0);
      double clip_mse = 0;
      for (size_t t = 0; t < fe.size(); ++t) mean_by_frame[t] += fe[t] / double(c.clips), clip_mse += fe[t];
      return psnr_of_mse(clip_mse / double(fe.size()));
    };
    const double p = add_clip(frame_squared_errors(y, x), frame_mse);
    const double still_p = add_clip(frame_squared_errors(group_mean_frames(x, tc), x), still_mse);
    still_psnr_sum += still_p;
    const std::vector<double> cd = frame_changes(y), co = frame_changes(x);
    change_decoded.resize(cd.size(), 0.0), change_original.resize(co.size(), 0.0);
    for (size_t t = 0; t < cd.size(); ++t) change_decoded[t] += cd[t], change_original[t] += co[t];
    psnr_sum += p, psnr_min = std::min(psnr_min, p);
    const std::vector<world::Image> decoded = to_images(y);
    const world::Scorecard a = world::judge(frames, scene), b = world::judge(decoded, scene);
    const ClaimsKept k = claims_kept(a, b, per_kind);
    const int64_t pass_a = k.passed_original, pass_b = k.passed_decoded, both = k.kept;
    claims_total += int64_t(a.claims.size());
    claims_orig += pass_a, claims_dec += pass_b, still += both;
    std::printf("clip %3lld  psnr %6.2f dB (still groups %6.2f)  judge %lld/%zu original, %lld/%zu decoded%s%s\n",
                static_cast<long long>(i), p, still_p, static_cast<long long>(pass_a), a.claims.size(),
                static_cast<long long>(pass_b), b.claims.size(), k.lost.empty() ? "" : "; lost ", k.lost.c_str());
    char row[160];
    std::snprintf(row, sizeof row, "%s{\"clip\": %lld, \"psnr\": %.3f, \"claims\": %zu, \"pass_original\": %lld, \"pass_decoded\": %lld}",
                  i ? ",\n    " : "", static_cast<long long>(i), p, a.claims.size(),
                  static_cast<long long>(pass_a), static_cast<long long>(pass_b));
    rows += row;
    if (i < c.strips) write_recon_strip(fs::path(c.out), i, frames, decoded);
  }
  const double mean_psnr = psnr_sum / double(c.clips);
  const double still_share = claims_orig > 0 ? double(still) / double(claims_orig) : 1.0;
  std::printf("\n%lld held-out clips 128x128x%lld (causal chunking): PSNR mean %.2f dB, min %.2f dB [target >= 32: %s]\n"
              "judge: %lld/%lld claims pass on the originals, %lld on the decoded; %.1f%% still pass [target >= 98%%: %s]\n"
              "posterior noise: sigma / std(mu) = %.3f (training decodes a sample: large values blur)\n"
              "encode + decode %.3f s/clip\n",
              static_cast<long long>(c.clips), static_cast<long long>(c.frames), mean_psnr, psnr_min,
              mean_psnr >= 32 ? "met" : "NOT met", static_cast<long long>(claims_orig),
              static_cast<long long>(claims_total), static_cast<long long>(claims_dec), 100 * still_share,
              still_share >= 0.98 ? "met" : "NOT met", noise_sum / double(c.clips), seconds / double(c.clips));
  std::string frames_json;
  std::printf("%s\n", psnr_by_frame(frame_mse, tc, frames_json).c_str());
  std::string still_json;
  if (tc > 1 && c.frames > 1)
    std::printf("each group drawn still as its mean frame (no motion inside a latent frame, no other loss): PSNR mean "
                "%.2f dB; %s\n", still_psnr_sum / double(c.clips), psnr_by_frame(still_mse, tc, still_json).c_str());
  std::string motion_json;
  if (!change_decoded.empty())
    std::printf("%s\n", motion_by_place(change_decoded, change_original, tc, motion_json).c_str());
  std::string kinds;
  for (const auto& [kind, kp] : per_kind) {
    std::printf("  %-14s %5.1f%% kept (%lld of %lld)\n", kind.c_str(), 100.0 * double(kp.first) / double(kp.second),
                static_cast<long long>(kp.first), static_cast<long long>(kp.second));
    kinds += (kinds.empty() ? "\"" : ", \"") + kind + "\": [" + std::to_string(kp.first) + ", " +
             std::to_string(kp.second) + "]";
  }
  std::ofstream json(fs::path(c.out) / "recon.json");
  json << "{\n  \"vae\": \"" << c.vae << "\", \"clips\": " << c.clips << ", \"frames\": " << c.frames
       << ",\n  \"psnr_mean\": " << mean_psnr << ", \"psnr_min\": " << psnr_min
       << ",\n  \"claims\": " << claims_total << ", \"pass_original\": " << claims_orig
       << ", \"pass_decoded\": " << claims_dec << ", \"still_pass_share\": " << still_share
       << ",\n  \"per_kind_kept_of_passed\": {" << kinds << "}"
       << ",\n  \"psnr_by_frame\": [" << frames_json << "]"
       << ",\n  \"motion_by_place\": [" << motion_json << "]"
       << ",\n  \"still_groups_psnr_mean\": " << still_psnr_sum / double(c.clips)
       << ",\n  \"still_groups_psnr_by_frame\": [" << still_json << "]"
       << ",\n  \"posterior_noise_ratio\": " << noise_sum / double(c.clips)
       << ",\n  \"seconds_per_clip\": " << seconds / double(c.clips) << ",\n  \"per_clip\": [\n    " << rows
       << "\n  ]\n}\n";
  return 0;
}

}  // namespace

int cmd_vae(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::printf("usage: kinema vae stats|recon|widen|inflate|keyframe [options]\n"
                "  stats    per-channel latent mean/std into the VAE file's metadata (for VAE::normalize)\n"
                "  widen    the same VAE at twice the width (same latents and decodes), to train on\n"
                "  inflate  an image-trained VAE's time-mixing weights to the identity, to train on video\n"
                "  keyframe latent frames that keep their group's last frame (sharp) instead of its mean\n"
                "  recon    reconstruction benchmark on held-out world clips: PSNR, world judge, PNG strips\n"
                "  `kinema vae <command> --help` lists each one's options\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "stats") return vae_stats(argc - 1, argv + 1);
  if (what == "recon") return vae_recon(argc - 1, argv + 1);
  if (what == "inflate") return vae_inflate(argc - 1, argv + 1);
  if (what == "keyframe") return vae_keyframe(argc - 1, argv + 1);
  if (what == "widen") return vae_widen(argc - 1, argv + 1);
  fail("vae", "unknown command '", what, "'; expected stats, recon, widen, inflate or keyframe");
}

}  // namespace kinema::cli
