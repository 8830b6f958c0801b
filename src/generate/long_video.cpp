// Long videos in chunks (docs/modes.md): each chunk is one clip whose first 1 + 4k frames are
// given (the anchor, then the previous chunk's last 4k frames), so only one chunk's latent,
// its condition and 1 + 4k context frames are live whatever the length. Frames stream out as
// each chunk is decoded.
#include <algorithm>
#include <cstddef>

#include "kinema/error.hpp"
#include "kinema/modes.hpp"

namespace kinema {
namespace {
constexpr int kTc = 4;
}

int chunk_frames(const Pipeline& pipe, const ModeOptions& options) {
  const int k = std::max(1, options.context_latents), least = 1 + kTc * (k + 1);
  if (options.chunk_frames > 0) {
    check((options.chunk_frames - 1) % kTc == 0 && options.chunk_frames >= least, "long video", "chunks of ",
          options.chunk_frames, " frames cannot be made: a chunk has 1 + 4m frames, at least ", least,
          " with ", k, " latent frames of context");
    return options.chunk_frames;
  }
  return std::max(pipe.manifest().frames, 1 + kTc * (k + 2));
}

namespace {

// The chunk loop. With `before` empty the first chunk is free (text or given frames only); else
// every chunk continues from context frames, the first ones from before's end, and the anchor
// is before's first frame.
ModeResult run_chunks(const Pipeline& pipe, const GenerateRequest& base, int F, const std::vector<Frame>& before,
                      const ModeOptions& options, const FrameSink& sink, const ProgressFn& progress) {
  check(options.context_latents >= 1, "long video", "context_latents must be at least 1; got ",
        options.context_latents);
  const int Nc = chunk_frames(pipe, options), k = options.context_latents, P = 1 + kTc * k;
  GenerateRequest r = base;
  r.frames = std::min(F, Nc), r.known.clear();
  if (!before.empty()) r.width = before[0].width, r.height = before[0].height, r.frames = Nc;
  r = pipe.resolve(r);  // defaults and checks at one chunk's size (the memory that is needed)
  check(F <= int(kMaxSeconds * r.fps) + 1, "generate", F, " frames at ", r.fps, " fps is over ", kMaxSeconds,
        " s; make at most ", kMaxSeconds, " s");

  ModeResult out;
  out.total_frames = F;
  auto emit = [&](const Frame& f) { sink ? sink(f) : out.frames.push_back(f); };
  // The last P frames made (the next chunk's context) and the anchor.
  std::vector<Frame> tail(before.end() - std::min<ptrdiff_t>(P, ptrdiff_t(before.size())), before.end());
  Frame anchor = before.empty() ? Frame{} : before[0];
  check(before.empty() || int(before.size()) >= P, "long video", "continuing needs at least ", P,
        " frames of context; got ", before.size());
  int made = 0;
  for (uint32_t c = 0; made < F; ++c) {
    const bool free = c == 0 && before.empty();
    const int ctx = free ? 0 : P;                               // given context frames at the front
    const int n = free ? r.frames : std::min(Nc - P, F - made);  // new frames (a multiple of 4 after a free chunk)
    GenerateRequest q = r;
    q.frames = ctx + n, q.noise_stream = c, q.known.clear();
    for (int i = 0; i < ctx; ++i) q.known.push_back({i, i == 0 && options.anchor ? anchor : tail[size_t(i)]});
    for (const KnownFrame& kf : base.known)  // frames the request gives (an image, a last image)
      if (kf.index >= made && kf.index < made + n) q.known.push_back({ctx + kf.index - made, kf.frame});
    GenerateResult g = pipe.generate(q, progress);
    if (c > 0 || !before.empty()) out.seams.push_back(made);
    if (free) anchor = g.frames[0];
    for (int i = ctx; i < ctx + n; ++i) {
      emit(g.frames[size_t(i)]);
      tail.push_back(std::move(g.frames[size_t(i)]));
    }
    if (tail.size() > size_t(P)) tail.erase(tail.begin(), tail.end() - P);
    made += n;
    out.chunks = int(c) + 1;
    out.peak_latent_frames = std::max(out.peak_latent_frames, g.peak_latent_frames);
    g.frames.clear();
    out.last = std::move(g);
  }
  return out;
}

}  // namespace

ModeResult generate_long(const Pipeline& pipe, const GenerateRequest& base, const ModeOptions& options,
                         const FrameSink& sink, const ProgressFn& progress) {
  const int F = base.frames > 0 ? base.frames : pipe.manifest().frames;
  check((F - 1) % kTc == 0, "generate", F, " frames cannot be made: clips have 1 + 4k frames; nearest valid: ",
        1 + kTc * ((F - 1 + kTc / 2) / kTc));
  return run_chunks(pipe, base, F, {}, options, sink, progress);
}

ModeResult continue_long(const Pipeline& pipe, const std::vector<Frame>& before, const GenerateRequest& base,
                         int new_frames, const ModeOptions& options, const FrameSink& sink,
                         const ProgressFn& progress) {
  check(!before.empty(), "long video", "nothing to continue");
  check(new_frames > 0 && new_frames % kTc == 0, "long video", "new frames come in multiples of ", kTc, "; got ",
        new_frames);
  GenerateRequest r = base;
  r.known.clear();  // indices would be relative to the new frames; not supported here
  return run_chunks(pipe, r, new_frames, before, options, sink, progress);
}

}  // namespace kinema
