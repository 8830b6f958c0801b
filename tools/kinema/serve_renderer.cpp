#include "serve_renderer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/modes.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/safety.hpp"
#include "kinema/storyboard.hpp"
#include "kinema/tensor_file.hpp"
#include "frame_log.hpp"
#include "signed_output.hpp"

namespace kinema::cli {
namespace {

// A checkpoint file: tensors "x" and "stepper.K", and the step and the stepper's scalars (as
// hexadecimal floats, exact) in the metadata. Written to a temporary name and renamed, so a kill
// leaves the previous checkpoint or the new one, never half of one.
// A long render's checkpoint also says how many frames were made before its chunk (`made`).
void write_checkpoint(const std::string& path, const SampleCheckpoint& c, int made = -1) {
  TensorFile f;
  if (made >= 0) f.metadata["made"] = std::to_string(made);
  f.tensors["x"] = c.x;
  for (size_t i = 0; i < c.stepper.tensors.size(); ++i) f.tensors["stepper." + std::to_string(i)] = c.stepper.tensors[i];
  f.metadata["step"] = std::to_string(c.step);
  std::string scalars;
  for (double v : c.stepper.scalars) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%a,", v);
    scalars += buf;
  }
  f.metadata["stepper_scalars"] = scalars;
  f.metadata["stepper_tensors"] = std::to_string(c.stepper.tensors.size());
  save_tensors(path + ".tmp", f);
  std::filesystem::rename(path + ".tmp", path);
}

// The checkpoint at path, or null when there is none or it cannot be read (then the render
// starts over, which is slower but gives the same frames).
struct SavedCheckpoint {
  std::shared_ptr<const SampleCheckpoint> state;  // null: none
  int made = -1;                                   // frames made before its chunk (long renders)
};

SavedCheckpoint read_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  try {
    TensorFile f = load_tensors(path);
    auto c = std::make_shared<SampleCheckpoint>();
    c->step = std::stoi(f.metadata.at("step"));
    c->x = f.tensors.at("x");
    const int n = std::stoi(f.metadata.at("stepper_tensors"));
    for (int i = 0; i < n; ++i) c->stepper.tensors.push_back(f.tensors.at("stepper." + std::to_string(i)));
    const std::string& s = f.metadata.at("stepper_scalars");
    for (size_t at = 0, comma; (comma = s.find(',', at)) != std::string::npos; at = comma + 1)
      c->stepper.scalars.push_back(std::strtod(s.substr(at, comma - at).c_str(), nullptr));
    const auto made = f.metadata.find("made");
    return {c, made == f.metadata.end() ? -1 : std::stoi(made->second)};
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kinema serve: ignoring unreadable checkpoint %s: %s\n", path.c_str(), e.what());
    return {};
  }
}

class PipelineRenderer : public serve::Renderer {
 public:
  explicit PipelineRenderer(const ServeRenderOptions& o)
      : o_(o),
        policy_(load_prompt_policy(o.policy_file)),
        pipe_(Pipeline::load(o.model_dir)) {}

  void render(const serve::RenderTask& t, const serve::RenderProgress& progress) override {
    check_policy(t);
    GenerateRequest r = request_of(t);
    Provenance prov;
    prov.model_name = pipe_.manifest().name, prov.model_hash = pipe_.model_digest(), prov.seed = r.seed;
    prov.sampler = {{"sampler", r.sampler}, {"steps", std::to_string(r.steps)}, {"cfg", std::to_string(r.cfg)}};
    prov.prompt = t.prompt, prov.record_prompt = o_.record_prompt;
    SignedOutput out({t.video_path, t.spritesheet_path, r.width, r.height, r.fps, r.frames, prov, o_.watermark_key,
                      frame_policy(policy_, o_.no_frame_review)});
    double done = 0;
    auto report = [&](double f) {
      done = std::max(done, std::min(f, 0.97));
      progress(done);
    };
    const ProgressFn by_step = [&](const GenerateProgress& p) { report(0.9 * p.step / std::max(1, p.steps)); };
    const int chunk = chunk_frames(pipe_, {});
    if (t.loop) {
      GenerateRequest base = r;
      base.frames = t.frames;
      ModeResult m = loop_video(pipe_, base, {}, by_step);
      for (const Frame& f : m.frames) out.write(f);
    } else if (!t.storyboard.empty()) {
      GenerateRequest base = r;
      base.frames = t.shot_frames;
      int emitted = 0;
      generate_storyboard(pipe_, storyboard_from_json(t.storyboard), base, {},
                          [&](const Frame& f) { out.write(f), ++emitted; },
                          [&](const GenerateProgress& p) {
                            const int next = std::min(chunk, r.frames - emitted);  // about what this clip adds
                            report((emitted + double(p.step) / std::max(1, p.steps) * next) / r.frames);
                          });
    } else if (!t.join_source.empty()) {
      check(std::filesystem::exists(t.extend_source) && std::filesystem::exists(t.join_source), "join",
            "a video to join is no longer stored");
      const int before = t.frames - t.extend_frames - t.join_frames;
      const std::vector<Frame> a = read_frames(t.extend_source, r.width, r.height, before);
      const std::vector<Frame> b = read_frames(t.join_source, r.width, r.height, t.join_frames);
      GenerateRequest base = r;
      base.frames = chunk;
      ModeResult m = join_videos(pipe_, a, b, base, t.extend_frames, {}, by_step);
      for (const Frame& f : m.frames) out.write(f);
    } else if (!t.extend_source.empty()) {
      check(std::filesystem::exists(t.extend_source), "extend", "the source video is no longer stored");
      // The source's frames (an uploaded source may hold more: those past its 1 + 4k are dropped).
      const std::vector<Frame> before = read_frames(t.extend_source, r.width, r.height, t.frames - t.extend_frames);
      GenerateRequest base = r;
      base.frames = chunk;
      ModeResult m = extend_video(pipe_, before, base, t.extend_frames, false, {}, by_step);
      for (const Frame& f : m.frames) out.write(f);
    } else if (r.frames > chunk && r.edit.empty()) {
      render_long(t, r, out, report);
    } else {
      if (!t.checkpoint_path.empty()) {  // one clip: the sampler's state survives a kill
        r.resume = read_checkpoint(t.checkpoint_path).state;
        if (r.resume) std::fprintf(stderr, "kinema serve: %s resumes after sampling step %d\n", t.id.c_str(), r.resume->step);
        r.checkpoint = [path = t.checkpoint_path](const SampleCheckpoint& c) { write_checkpoint(path, c); };
      }
      GenerateResult g = pipe_.generate(r, by_step);
      for (Frame& f : g.frames) out.write(std::move(f));
    }
    progress(0.98);
    out.close();
    write_thumbnail(t.video_path, t.thumbnail_path, prov);
    progress(0.99);
  }

 private:
  // A long video in chunks. With a checkpoint path the frames made so far are logged beside the
  // sampler's checkpoint (tagged with how many frames came before its chunk), so a render
  // killed mid-way goes on from its last chunk and step (generate_long's resume) and writes the
  // frames an uninterrupted render writes.
  void render_long(const serve::RenderTask& t, GenerateRequest r, SignedOutput& out,
                   const std::function<void(double)>& report) {
    ModeOptions o;
    const int chunk = chunk_frames(pipe_, o), context = 1 + 4 * o.context_latents;
    int emitted = 0;
    FrameLog log;
    if (!t.checkpoint_path.empty()) {
      log = FrameLog(t.checkpoint_path + ".frames", r.width, r.height);
      o.resume_frames = log.read();
      const SavedCheckpoint step = read_checkpoint(t.checkpoint_path);
      if (step.state && step.made >= 0) o.resume_step = step.state, o.resume_step_made = step.made;
      if (!o.resume_frames.empty() || o.resume_step)
        std::fprintf(stderr, "kinema serve: %s resumes after %zu frames%s\n", t.id.c_str(), o.resume_frames.size(),
                     o.resume_step ? (" and sampling step " + std::to_string(o.resume_step->step)).c_str() : "");
      r.checkpoint = [&, path = t.checkpoint_path](const SampleCheckpoint& c) { write_checkpoint(path, c, emitted); };
      o.chunk_done = [&](int) { log.sync(); };
    }
    const size_t logged = o.resume_frames.size();
    generate_long(pipe_, r, o, [&](const Frame& f) {
      out.write(f);
      if (size_t(emitted++) >= logged) log.append(f);  // frames before are in the log already
    }, [&](const GenerateProgress& p) {  // the frames made, and the share of this chunk's new ones
      const int fresh = emitted == 0 ? chunk : std::min(chunk - context, r.frames - emitted);
      report((emitted + double(p.step) / std::max(1, p.steps) * fresh) / r.frames);
    });
  }

  // As `kinema generate`: the prompt under the whole policy, the negative prompt only under the
  // rule no policy lifts (it names what to avoid).
  void check_policy(const serve::RenderTask& t) const {
    for (const std::string* text : {&t.prompt, &t.negative}) {
      if (text->empty()) continue;
      const PolicyDecision d = policy_.check(*text);
      if (d.allowed || (text == &t.negative && d.category != "sexual_minors")) continue;
      refuse("prompt policy", "refused (", d.category, ") by rule '", d.rule, "' on '", d.matched, "': ",
             d.explanation);
    }
  }

  GenerateRequest request_of(const serve::RenderTask& t) const {
    GenerateRequest r;
    r.prompt = t.prompt, r.negative = t.negative, r.width = t.width, r.height = t.height;
    r.frames = std::min(t.frames, chunk_frames(pipe_, {})), r.fps = t.fps, r.seed = t.seed;
    r.steps = t.steps, r.sampler = t.sampler, r.cfg = t.cfg, r.threads = 0;
    r = pipe_.resolve(r);  // checks and memory at one chunk
    r.frames = t.frames;
    if (!t.input_reference.empty()) r.known.push_back({0, read_frames(t.input_reference, r.width, r.height, 1)[0]});
    if (!t.remix_source.empty()) {
      check(std::filesystem::exists(t.remix_source), "remix", "the source video is no longer stored");
      std::vector<Frame> src = read_frames(t.remix_source, r.width, r.height, chunk_frames(pipe_, {}));
      src.resize(1 + 4 * ((src.size() - 1) / 4));  // 1 + 4k frames
      r.frames = int(src.size()), r.edit = std::move(src);
      r.strength = t.strength >= 0 ? t.strength : o_.remix_strength;
    }
    return r;
  }

  static std::vector<Frame> read_frames(const std::string& path, int width, int height, int max_frames) {
    VideoReadOptions ro;
    ro.width = width, ro.height = height, ro.resize = ResizeMode::crop;
    std::vector<Frame> f = read_video(path, ro);
    check(!f.empty(), "serve", "the input has no frames");
    if (int(f.size()) > max_frames) f.resize(size_t(max_frames));
    return f;
  }

  // The first frame of the finished (watermarked) video, as a signed PNG.
  static void write_thumbnail(const std::string& video, const std::string& path, Provenance prov) {
    std::vector<Frame> first = read_video(video);
    check(!first.empty(), "serve", "the rendered video has no frames");
    write_image(path, first[0], &prov);
  }

  ServeRenderOptions o_;
  PromptPolicy policy_;
  Pipeline pipe_;
};

}  // namespace

serve::ModelInfo serve_model_info(const std::string& model_dir) {
  const ModelManifest m = read_manifest(model_dir + "/model.json");
  serve::ModelInfo info;
  info.name = m.name, info.sizes = m.sizes, info.fps = m.fps, info.frames = m.frames;
  info.max_frames = 1 + 4 * int(kMaxSeconds * m.fps / 4);
  return info;
}

serve::RendererFactory pipeline_renderer_factory(const ServeRenderOptions& options) {
  return [options]() -> std::unique_ptr<serve::Renderer> { return std::make_unique<PipelineRenderer>(options); };
}

}  // namespace kinema::cli
