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
class ChunkRun {
 public:
  ChunkRun(const Pipeline& pipe, const GenerateRequest& base, int F, const std::vector<Frame>& before,
           const ModeOptions& options, const FrameSink& sink)
      : pipe_(pipe), base_(base), o_(options), sink_(sink), F_(F), free_start_(before.empty()) {
    check(o_.context_latents >= 1, "long video", "context_latents must be at least 1; got ", o_.context_latents);
    Nc_ = chunk_frames(pipe, o_), P_ = 1 + kTc * o_.context_latents;
    r_ = base;
    r_.frames = std::min(F, Nc_), r_.known.clear();
    if (!before.empty()) r_.width = before[0].width, r_.height = before[0].height, r_.frames = Nc_;
    r_ = pipe.resolve(r_);  // defaults and checks at one chunk's size (the memory that is needed)
    check(F <= int(kMaxSeconds * r_.fps) + 1, "generate", F, " frames at ", r_.fps, " fps is over ", kMaxSeconds,
          " s; make at most ", kMaxSeconds, " s");
    check(before.empty() || int(before.size()) >= P_, "long video", "continuing needs at least ", P_,
          " frames of context; got ", before.size());
    tail_.assign(before.end() - std::min<ptrdiff_t>(P_, ptrdiff_t(before.size())), before.end());
    if (!before.empty()) anchor_ = before[0];
    out_.total_frames = F;
  }

  ModeResult run(const ProgressFn& progress) {
    replay(o_.resume_frames);
    auto step = made_ == o_.resume_step_made ? o_.resume_step : nullptr;  // the state of this chunk only
    for (; made_ < F_; step = nullptr) sample(step, progress);
    return std::move(out_);
  }

 private:
  bool free_chunk() const { return c_ == 0 && free_start_; }
  // New frames of the next chunk: a free chunk's whole clip, else what follows its context.
  int new_frames() const { return free_chunk() ? r_.frames : std::min(Nc_ - P_, F_ - made_); }

  // A made frame goes out and into the next chunk's context.
  void keep(Frame f) {
    sink_ ? sink_(f) : out_.frames.push_back(f);
    tail_.push_back(std::move(f));
    if (tail_.size() > size_t(P_)) tail_.erase(tail_.begin(), tail_.end() - P_);
  }

  void begin_chunk() {
    if (!free_chunk()) out_.seams.push_back(made_);
  }
  void end_chunk(int n) { made_ += n, out_.chunks = int(++c_); }

  // Resuming: the whole chunks among frames already made are emitted again, not sampled.
  void replay(const std::vector<Frame>& done) {
    for (int n; made_ < F_ && made_ + (n = new_frames()) <= int(done.size());) {
      if (free_chunk()) anchor_ = done[0];
      begin_chunk();
      for (int i = made_; i < made_ + n; ++i) keep(done[size_t(i)]);
      end_chunk(n);
    }
  }

  void sample(std::shared_ptr<const SampleCheckpoint> step, const ProgressFn& progress) {
    const bool free = free_chunk();
    const int ctx = free ? 0 : P_, n = new_frames();  // given context frames at the front, new ones
    GenerateRequest q = r_;
    q.frames = ctx + n, q.noise_stream = c_, q.known.clear(), q.resume = std::move(step);
    q.guidance_ramp = free ? base_.guidance_ramp : o_.guidance_ramp;  // a free chunk: the request's own
    for (int i = 0; i < ctx; ++i) q.known.push_back({i, i == 0 && o_.anchor ? anchor_ : tail_[size_t(i)]});
    for (const KnownFrame& kf : base_.known)  // frames the request gives (an image, a last image)
      if (kf.index >= made_ && kf.index < made_ + n) q.known.push_back({ctx + kf.index - made_, kf.frame});
    GenerateResult g = pipe_.generate(q, progress);
    if (!free) fade_seam(tail_.back(), g.frames[size_t(ctx - 1)], g.frames.begin() + ctx, n, true, o_.seam_fade);
    begin_chunk();
    if (free) anchor_ = g.frames[0];
    for (int i = ctx; i < ctx + n; ++i) keep(std::move(g.frames[size_t(i)]));
    end_chunk(n);
    out_.peak_latent_frames = std::max(out_.peak_latent_frames, g.peak_latent_frames);
    g.frames.clear();
    out_.last = std::move(g);
    if (o_.chunk_done) o_.chunk_done(made_);
  }

  const Pipeline& pipe_;
  const GenerateRequest& base_;
  const ModeOptions& o_;
  const FrameSink& sink_;
  const int F_;
  const bool free_start_;
  int Nc_ = 0, P_ = 0, made_ = 0;
  uint32_t c_ = 0;
  GenerateRequest r_;
  std::vector<Frame> tail_;  // the last P frames made: the next chunk's context
  Frame anchor_;
  ModeResult out_;
};

ModeResult run_chunks(const Pipeline& pipe, const GenerateRequest& base, int F, const std::vector<Frame>& before,
                      const ModeOptions& options, const FrameSink& sink, const ProgressFn& progress) {
  return ChunkRun(pipe, base, F, before, options, sink).run(progress);
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
