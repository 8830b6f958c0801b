// Extension forward and backward, joins and loops: each one clip sampled with frames of the
// input given at its ends (docs/modes.md). The input's own frames are kept exactly; only the
// new frames come from the decode, with the VAE's error at each seam faded into them (fade_seam).
#include <algorithm>
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/modes.hpp"

namespace kinema {
namespace {

constexpr int kTc = 4;  // video frames per latent frame (the VAE's time compression)

GenerateResult sample_clip(const Pipeline& pipe, const GenerateRequest& base, int frames, int width, int height,
                           std::vector<KnownFrame> known, const ModeOptions& options, uint32_t stream,
                           const ProgressFn& progress) {
  GenerateRequest r = base;
  r.frames = frames, r.width = width, r.height = height;
  r.known = std::move(known);
  r.guidance_ramp = options.guidance_ramp;
  r.edit.clear();
  r.noise_stream = stream;
  return pipe.generate(r, progress);
}

int round_up(int v, int m) { return (std::max(v, 1) + m - 1) / m * m; }

void check_input(const std::vector<Frame>& v, const char* what, const char* where) {
  check(!v.empty(), where, "the ", what, " has no frames");
  for (const Frame& f : v)
    check(f.width == v[0].width && f.height == v[0].height, where, "the ", what, " changes size: ", f.width, "x",
          f.height, " after ", v[0].width, "x", v[0].height);
}

// The transition core of join and loop: last 1 + 4(k - 1) frames of a first, n new frames, first
// 4k frames of b last. Returns the n new frames.
std::vector<Frame> bridge(const Pipeline& pipe, const std::vector<Frame>& a, const std::vector<Frame>& b,
                          const GenerateRequest& base, int n, int k, const ModeOptions& options, uint32_t stream,
                          const ProgressFn& progress, GenerateResult& last) {
  const int fade = options.seam_fade;
  const int P = 1 + kTc * (k - 1), Q = kTc * k, N = P + n + Q;  // 1 + 4(2k - 1 + n/4)
  std::vector<KnownFrame> known;
  for (int i = 0; i < P; ++i) known.push_back({i, a[a.size() - size_t(P) + size_t(i)]});
  for (int i = 0; i < Q; ++i) known.push_back({P + n + i, b[size_t(i)]});
  last = sample_clip(pipe, base, N, a[0].width, a[0].height, std::move(known), options, stream, progress);
  fade_seam(a.back(), last.frames[size_t(P - 1)], last.frames.begin() + P, n, true, fade);
  fade_seam(b.front(), last.frames[size_t(P + n)], last.frames.begin() + P, n, false, fade);
  std::vector<Frame> out(last.frames.begin() + P, last.frames.begin() + P + n);
  last.frames.clear();
  return out;
}

}  // namespace

int frames_for_seconds(double seconds, int fps) {
  check(seconds > 0 && seconds <= kMaxSeconds, "modes", "--seconds must lie in (0, ", kMaxSeconds, "]; got ",
        seconds);
  return round_up(int(std::ceil(seconds * fps - 1e-9)), kTc);
}

ModeResult extend_video(const Pipeline& pipe, const std::vector<Frame>& input, const GenerateRequest& base,
                        int new_frames, bool backward, const ModeOptions& options, const ProgressFn& progress) {
  check_input(input, "input video", "extend");
  check(options.context_latents >= 1, "extend", "context_latents must be at least 1; got ",
        options.context_latents);
  ModeResult out;
  const int W = input[0].width, H = input[0].height, L = int(input.size());
  if (!backward) {
    // Forward: the input's last P = 1 + 4(k - 1) frames open the clip (k latent frames given).
    const int k = std::min(options.context_latents, 1 + (L - 1) / kTc), P = 1 + kTc * (k - 1);
    const int n = round_up(new_frames, kTc);
    if (P + n > chunk_frames(pipe, options) && L >= 1 + kTc * options.context_latents) {
      // Longer than one chunk: continue in chunks (anchored on the input's first frame).
      ModeResult m = continue_long(pipe, input, base, n, options, {}, progress);
      m.frames.insert(m.frames.begin(), input.begin(), input.end());
      for (int& s : m.seams) s += L;
      m.total_frames = int(m.frames.size());
      return m;
    }
    std::vector<KnownFrame> known;
    for (int i = 0; i < P; ++i) known.push_back({i, input[size_t(L - P + i)]});
    out.last = sample_clip(pipe, base, P + n, W, H, std::move(known), options, 0, progress);
    fade_seam(input.back(), out.last.frames[size_t(P - 1)], out.last.frames.begin() + P, n, true, options.seam_fade);
    out.frames = input;
    out.frames.insert(out.frames.end(), out.last.frames.begin() + P, out.last.frames.end());
    out.seams = {L};
  } else {
    // Backward: the input's first 4k frames close the clip (its last k latent frames given).
    const int k = std::min(options.context_latents, L / kTc);
    check(k >= 1, "extend", "--backward needs an input of at least ", kTc, " frames; got ", L);
    const int n = 1 + round_up(new_frames - 1, kTc) * (new_frames > 1), Q = kTc * k;  // 1 + 4m new frames
    std::vector<KnownFrame> known;
    for (int i = 0; i < Q; ++i) known.push_back({n + i, input[size_t(i)]});
    out.last = sample_clip(pipe, base, n + Q, W, H, std::move(known), options, 0, progress);
    fade_seam(input.front(), out.last.frames[size_t(n)], out.last.frames.begin(), n, false, options.seam_fade);
    out.frames.assign(out.last.frames.begin(), out.last.frames.begin() + n);
    out.frames.insert(out.frames.end(), input.begin(), input.end());
    out.seams = {n};
  }
  out.chunks = 1, out.peak_latent_frames = out.last.peak_latent_frames;
  out.total_frames = int(out.frames.size());
  out.last.frames.clear();
  return out;
}

ModeResult join_videos(const Pipeline& pipe, const std::vector<Frame>& a, const std::vector<Frame>& b,
                       const GenerateRequest& base, int new_frames, const ModeOptions& options,
                       const ProgressFn& progress) {
  check_input(a, "first video", "join");
  check_input(b, "second video", "join");
  check(a[0].width == b[0].width && a[0].height == b[0].height, "join", "the videos differ in size: ",
        a[0].width, "x", a[0].height, " and ", b[0].width, "x", b[0].height, "; read both at one --size");
  const int k = std::min({options.context_latents, 1 + (int(a.size()) - 1) / kTc, int(b.size()) / kTc});
  check(k >= 1, "join", "the second video needs at least ", kTc, " frames; got ", b.size());
  const int n = round_up(new_frames, kTc);
  ModeResult out;
  std::vector<Frame> mid = bridge(pipe, a, b, base, n, k, options, 0, progress, out.last);
  out.frames = a;
  out.frames.insert(out.frames.end(), mid.begin(), mid.end());
  out.frames.insert(out.frames.end(), b.begin(), b.end());
  out.seams = {int(a.size()), int(a.size()) + n};
  out.chunks = 1, out.peak_latent_frames = out.last.peak_latent_frames;
  out.total_frames = int(out.frames.size());
  return out;
}

ModeResult loop_video(const Pipeline& pipe, const GenerateRequest& base, const ModeOptions& options,
                      const ProgressFn& progress) {
  const GenerateRequest r0 = pipe.resolve([&] {
    GenerateRequest r = base;
    r.frames = std::min(base.frames > 0 ? base.frames : pipe.manifest().frames, chunk_frames(pipe, options));
    return r;
  }());
  const int F = base.frames > 0 ? base.frames : pipe.manifest().frames;
  check((F - 1) % kTc == 0, "loop", F, " frames cannot be made: clips have 1 + 4k frames");
  const int m = (F - 1) / kTc, b = std::max(1, m / 3), a = m - b;  // latent frames: first pass, bridge
  check(a >= 1, "loop", "a loop needs at least 9 frames (two passes); got ", F);
  const int k = std::min(options.context_latents, a);
  GenerateRequest first = r0;
  first.frames = 1 + kTc * a;
  ModeResult A = generate_long(pipe, first, options, {}, progress);
  ModeResult out;
  std::vector<Frame> mid = bridge(pipe, A.frames, A.frames, r0, kTc * b, k, options, 1u << 20, progress, out.last);
  out.frames = std::move(A.frames);
  out.seams = A.seams;
  out.seams.push_back(int(out.frames.size()));
  out.frames.insert(out.frames.end(), mid.begin(), mid.end());
  out.loop = true;
  out.chunks = A.chunks + 1, out.peak_latent_frames = std::max(A.peak_latent_frames, out.last.peak_latent_frames);
  out.total_frames = int(out.frames.size());
  return out;
}

}  // namespace kinema
