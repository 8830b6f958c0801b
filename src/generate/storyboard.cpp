// Storyboards: the shot loop (parsing is src/storyboard/parse.cpp). Each shot is one clip (continued in chunks when longer than a chunk); every shot after the
// first has the first shot's anchor frames, or a character's reference, in front (docs/modes.md).
#include "kinema/storyboard.hpp"

#include <algorithm>
#include <cmath>

#include "kinema/error.hpp"

namespace kinema {
namespace {
constexpr int kTc = 4;
}  // namespace

ModeResult generate_storyboard(const Pipeline& pipe, const Storyboard& board, const GenerateRequest& base,
                               const StoryboardOptions& options, const FrameSink& sink, const ProgressFn& progress) {
  check(!board.shots.empty(), "storyboard", "no shots");
  const int R = options.reference_frames;
  check(R >= 1 && (R - 1) % kTc == 0, "storyboard", "reference_frames must be 1 + 4k; got ", R);
  const std::vector<ShotPlan> plans = plan_storyboard(pipe, board, base, options);
  const int Nc = chunk_frames(pipe, options.mode), P = 1 + kTc * options.mode.context_latents;
  ModeResult out;
  auto emit = [&](const Frame& f) { sink ? sink(f) : out.frames.push_back(f); };
  std::vector<Frame> reference = base.reference;  // a character's, else the first shot's opening frames
  for (size_t i = 0; i < plans.size(); ++i) {
    const ShotPlan& plan = plans[i];
    GenerateRequest r = base;
    r.prompt = plan.caption, r.expand = false, r.known.clear();
    r.seed = base.seed + uint64_t(i) * 0x9e3779b97f4a7c15ull;  // each shot its own noise
    r.reference = reference;
    const int lead = r.reference.empty() ? 0 : int(r.reference.size()) + kTc - 1;
    r.frames = std::min(plan.frames, std::max(Nc - lead, P));  // the shot's first clip
    if (i > 0) out.seams.push_back(out.total_frames);
    GenerateResult g = pipe.generate(r, progress);
    if (reference.empty()) {
      check(int(g.frames.size()) >= R, "storyboard", "the first shot has ", g.frames.size(), " frames; ", R,
            " are needed as the reference of the next shots");
      reference.assign(g.frames.begin(), g.frames.begin() + R);
    }
    for (const Frame& f : g.frames) emit(f);
    out.chunks += 1, out.peak_latent_frames = std::max(out.peak_latent_frames, g.peak_latent_frames);
    if (plan.frames > r.frames) {  // longer than a chunk: continue from the shot's own frames
      GenerateRequest c = r;
      c.prompt = plan.continue_caption, c.reference = base.reference;
      ModeResult m = continue_long(pipe, g.frames, c, plan.frames - r.frames, options.mode, emit, progress);
      for (int s : m.seams) out.seams.push_back(out.total_frames + r.frames + s);
      out.chunks += m.chunks, out.peak_latent_frames = std::max(out.peak_latent_frames, m.peak_latent_frames);
      g = std::move(m.last);
    }
    out.total_frames += plan.frames;
    g.frames.clear();
    out.last = std::move(g);
  }
  return out;
}

}  // namespace kinema
