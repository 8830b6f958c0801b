// The modes of issue 10 built on one pipeline call with frames given (docs/modes.md):
// extension forward and backward, joins, seamless loops and long videos in chunks, plus the
// continuity scorecard that measures their seams. Image-to-video and editing are plain
// GenerateRequest fields (known, edit); see kinema/pipeline.hpp.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kinema/media.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/subjects.hpp"

namespace kinema {

inline constexpr double kMaxSeconds = 60;  // the longest video a mode makes

struct ModeOptions {
  // Latent frames of context taken from the input at a seam (each covers 4 video frames).
  int context_latents = 2;
  // Long videos (and a loop's first pass when longer than one chunk): frames per sampled
  // chunk, 1 + 4k; 0 = the model's clip length, at least 1 + 4·(context_latents + 2).
  int chunk_frames = 0;
  // Long videos: each chunk's first latent frame is the first chunk's first frame (the drift
  // guard), the rest of its context the previous chunk's last frames.
  bool anchor = true;
  // Long videos (generate_long): going on with a render that was stopped (kinema serve's jobs
  // survive a kill). resume_frames are the frames an earlier run of the same request already
  // emitted; every whole chunk among them is emitted again instead of sampled (a partial last
  // chunk is sampled anew), and sampling goes on with the next chunk, from resume_step when
  // it belongs to it (the sampler's state inside that chunk, written by GenerateRequest::checkpoint).
  std::vector<Frame> resume_frames;
  std::shared_ptr<const SampleCheckpoint> resume_step;
  int resume_step_made = 0;  // frames made before resume_step's chunk; another chunk ignores it
  // New frames next to a given one over which the difference between that frame and its
  // decode fades out (fade_seam); 0 = none, the seam then shows the VAE's error.
  int seam_fade = 12;
  // Latent frames over which guidance rises from none at the given frames to the request's cfg
  // (GenerateRequest::guidance_ramp): new frames next to a seam continue what they are given.
  int guidance_ramp = 6;
  // Called after each sampled chunk's frames went to the sink, with the frames made so far:
  // the point a stopped render can resume from.
  std::function<void(int made)> chunk_done;
};

// Frames made by a mode and where its seams are.
struct ModeResult {
  std::vector<Frame> frames;  // the whole output (empty when a sink received them)
  int total_frames = 0;
  std::vector<int> seams;     // index of the first frame after each seam
  bool loop = false;          // the last frame leads into the first
  int chunks = 0;             // clips sampled
  int64_t peak_latent_frames = 0;
  GenerateResult last;        // the last sampled clip (caption, notes, settings; frames cleared)
};

using FrameSink = std::function<void(const Frame&)>;
using ProgressFn = std::function<void(const GenerateProgress&)>;

// Adds (given - decoded) x (fade - j) / (fade + 1) to the j-th of `count` new frames counted
// from the seam (forward: first, first + 1, ...; backward: the last first), so the change from
// a kept input frame to the first new one is the model's own change, not the VAE's error.
// Frames past `fade` are untouched.
void fade_seam(const Frame& given, const Frame& decoded, std::vector<Frame>::iterator first, int count,
               bool forward, int fade);

// New frames a mode adds for `seconds` at `fps`, rounded up to a multiple of 4 (one latent frame).
int frames_for_seconds(double seconds, int fps);

// Continues `input` (frames of the request's size) by `new_frames` (rounded up to a multiple of
// 4) frames, or with backward = true invents the `new_frames` (rounded to 1 + 4k) before it.
// The input's frames are kept exactly; base gives prompt, seed and settings.
ModeResult extend_video(const Pipeline& pipe, const std::vector<Frame>& input, const GenerateRequest& base,
                        int new_frames, bool backward, const ModeOptions& options = {},
                        const ProgressFn& progress = {});

// a, then `new_frames` (a multiple of 4) transition frames generated from the end of a to the
// start of b, then b.
ModeResult join_videos(const Pipeline& pipe, const std::vector<Frame>& a, const std::vector<Frame>& b,
                       const GenerateRequest& base, int new_frames, const ModeOptions& options = {},
                       const ProgressFn& progress = {});

// A seamless loop of base.frames frames (1 + 4k, at least 1 + 8·context_latents): a first pass
// A, then a bridge generated from A's end back to A's start; the output is A + bridge, so its
// last frame leads into its first.
ModeResult loop_video(const Pipeline& pipe, const GenerateRequest& base, const ModeOptions& options = {},
                      const ProgressFn& progress = {});

// base.frames frames in chunks of options.chunk_frames, each conditioned on the previous
// chunk's last frames (and the anchor); only one chunk's latent and its context are live.
// Frames go to `sink` as each chunk is decoded (ModeResult::frames stays empty), or are
// collected when sink is empty. base.known frames apply to the chunk that makes them.
ModeResult generate_long(const Pipeline& pipe, const GenerateRequest& base, const ModeOptions& options = {},
                         const FrameSink& sink = {}, const ProgressFn& progress = {});

// `new_frames` (a multiple of 4) frames after `before` in chunks like generate_long, every chunk
// conditioned on the frames before it (the first on before's last 1 + 4k frames, with before's
// first frame as the anchor). extend_video uses it when the extension is longer than a chunk.
ModeResult continue_long(const Pipeline& pipe, const std::vector<Frame>& before, const GenerateRequest& base,
                         int new_frames, const ModeOptions& options = {}, const FrameSink& sink = {},
                         const ProgressFn& progress = {});

// The chunk length generate_long uses for a request (options.chunk_frames resolved).
int chunk_frames(const Pipeline& pipe, const ModeOptions& options);

// ---- continuity scorecard -----------------------------------------------------------------------
// Mean absolute difference of two frames' RGB values (0..255).
double mean_abs_diff(const Frame& a, const Frame& b);

struct ContinuityScorecard {
  std::string mode;
  int frames = 0;
  double median_change = 0;          // median frame-to-frame change away from seams
  std::vector<int> seam_frames;      // first frame after each seam
  std::vector<double> seams;         // change across each seam
  std::vector<double> seam_ratios;   // seams / median_change
  bool loop = false;
  double loop_closure = 0;           // last -> first change (loops)
  double loop_ratio = 0;             // loop_closure / median_change
  SubjectReport subjects;            // colour/size drift and identity of tracked subjects (subjects.hpp)
};

// Streams frames (a long video is never held): keeps the first and previous frame and one
// number per frame pair; the seams can be named after the last frame.
class ContinuityMeter {
 public:
  explicit ContinuityMeter(const SubjectOptions& subjects = {}) : subjects_(subjects) {}
  void add(const Frame& frame);
  ContinuityScorecard finish(const std::vector<int>& seam_frames, const std::string& mode, bool loop) const;

 private:
  std::vector<double> changes_;  // changes_[i]: frame i -> i + 1
  Frame first_, previous_;
  int count_ = 0;
  SubjectMeter subjects_;
};

ContinuityScorecard continuity_scorecard(const std::vector<Frame>& frames, const std::vector<int>& seam_frames,
                                         const std::string& mode, bool loop, const SubjectOptions& subjects = {});
std::string scorecard_json(const ContinuityScorecard& s);
std::string scorecard_summary(const ContinuityScorecard& s);  // one or two lines for the terminal

}  // namespace kinema
