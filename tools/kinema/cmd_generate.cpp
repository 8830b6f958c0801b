// `kinema generate "prompt" -o out.mp4`: text to video (or to an image) with the default model
// or any model directory, signed with C2PA content credentials, with a progress bar and a
// contact-sheet preview. Frames can be given (--image, --last-image); clips longer than one
// chunk are made in chunks and streamed to the file (docs/modes.md).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "commands.hpp"
#include "denoise_trace.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/modes.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/safety.hpp"
#include "mode_cli.hpp"
#include "option_table.hpp"
#include "signed_output.hpp"
#include "storyboard_cli.hpp"
#include "kinema/storyboard.hpp"

namespace kinema::cli {
namespace {

struct GenerateCli {
  GenerateRequest req;
  std::string out = "kinema.mp4", model, preview, size, policy, type, trace;
  int trace_every = 0;
  float seconds = 0;
  bool no_expand = false, record_prompt = false, quiet = false, no_frame_review = false;
  std::string watermark_key;
  FramePolicy frames;             // frame review, from the policy file
  std::string image, last_image;  // frames given at the start and the end
  ModeOptions mode;               // long videos: chunks, context, anchor
  bool no_anchor = false, no_paste = false;
  std::string storyboard;         // a JSON list of shots (storyboard_cli.hpp)
};

#define KI KINEMA_OPT_INT
#define KF KINEMA_OPT_FLOAT
#define KS KINEMA_OPT_STRING
const std::vector<Option<GenerateCli>>& options() {
  static const std::vector<Option<GenerateCli>> table = [] {
    std::vector<Option<GenerateCli>> rows = {
      {"-o", "FILE", "output: .mp4, .webm, .gif, or .png (one frame: text-to-image)", KS(out)},
      {"--model", "DIR", "model directory (model.json + weights, or a Wan2.1 T2V release: docs/wan.md); default: the shipped model", KS(model)},
      {"--type", "T", "convert the DiT's matrices on load: bf16, f16, q8_0 or q4_0 (less memory; q8_0 is close to lossless)", KS(type)},
      {"--negative", "TEXT", "negative prompt: what classifier-free guidance steers away from", KS(req.negative)},
      {"--size", "WxH", "frame size, a multiple of 16 (default: the model's first trained size)", KS(size)},
      {"--seconds", "S", "clip length in seconds (rounded to 1 + 4k frames)", KF(seconds)},
      {"--frames", "N", "clip length in frames, 1 + 4k (1 = an image; default: the model's)", KI(req.frames)},
      {"--fps", "N", "frames per second (default: the model's)", KI(req.fps)},
      {"--steps", "N", "sampling steps (default: the model's)", KI(req.steps)},
      {"--cfg", "X", "classifier-free guidance scale (1 = off; default: the model's)", KF(req.cfg)},
      {"--rescale", "X", "guidance rescale phi in [0, 1] (Lin et al. 2023)", KF(req.rescale)},
      {"--shift", "S", "timestep shift (0: by resolution, as in training; default: the model's)", KF(req.shift)},
      {"--sampler", "NAME", "euler, heun, unipc or dpm++ (default: the model's)", KS(req.sampler)},
      {"--seed", "N", "noise seed: same seed and settings give the same video, bit for bit", KI(req.seed)},
      {"--threads", "N", "CPU threads (0: OMP_NUM_THREADS, else all cores)", KI(req.threads)},
      {"--no-expand", "", "use the prompt as written instead of expanding it into a detailed caption", KINEMA_OPT_FLAG(no_expand)},
      {"--expand", "", "expand the prompt into the model's detailed caption style (the default)",
       [](const GenerateCli&) { return std::string("on"); }, [](GenerateCli& c, const std::string&) { c.no_expand = false; }},
      {"--preview", "FILE", "contact sheet PNG of 8 frames (default: OUT.preview.png; 'none' to skip)", KS(preview)},
      {"--trace", "FILE", "PNG of the sampler's x0 estimate (8 frames a row) every few steps, noise at the top, result at the bottom", KS(trace)},
      {"--trace-every", "K", "--trace: a row every K steps (0: about 10 rows)", KI(trace_every)},
      {"--record-prompt", "", "write the prompt into the C2PA credentials (off: privacy)", KINEMA_OPT_FLAG(record_prompt)},
      {"--no-frame-review", "", "skip the image classifier's review of the frames (operators only; docs/safety-frames.md)", KINEMA_OPT_FLAG(no_frame_review)},
      {"--watermark-key", "TEXT", "operator passphrase mixed into the invisible watermark (`kinema detect --key`)", KS(watermark_key)},
      {"--policy", "FILE", "operator prompt policy (JSON, docs/safety.md); default: the built-in policy", KS(policy)},
      {"--quiet", "", "no progress bar", KINEMA_OPT_FLAG(quiet)},
      {"--image", "FILE", "animate this image: it becomes frame 0 (centre-cropped to --size)", KS(image)},
      {"--last-image", "FILE", "end on this image: it becomes the last frame", KS(last_image)},
      {"--no-paste", "", "do not paste the given frames' latents back after sampling", KINEMA_OPT_FLAG(no_paste)},
      {"--chunk-frames", "N", "long videos: frames per chunk, 1 + 4k (0: the model's clip length)", KI(mode.chunk_frames)},
      {"--context", "K", "long videos: latent frames of the previous chunk each chunk sees", KI(mode.context_latents)},
      {"--seam-fade", "N", "long videos: new frames over which the VAE's error at a chunk seam fades out (0: none)", KI(mode.seam_fade)},
      {"--guidance-ramp", "N", "long videos: latent frames over which guidance rises from a chunk's context to --cfg (0: cfg throughout)", KI(mode.guidance_ramp)},
      {"--no-anchor", "", "long videos: do not re-anchor each chunk on the first frame", KINEMA_OPT_FLAG(no_anchor)},
      {"--storyboard", "FILE", "several shots in one video: a JSON list of {\"prompt\", \"seconds\", \"camera\"} (or write [shot] between prompts)", KS(storyboard)},
    };
    for (auto& row : guidance_options<GenerateCli>()) rows.push_back(std::move(row));
    for (auto& row : vae_tile_options<GenerateCli>()) rows.push_back(std::move(row));
    return rows;
  }();
  return table;
}
#undef KI
#undef KF
#undef KS

void print_help() {
  std::printf(
      "usage: kinema generate \"PROMPT\" [-o out.mp4] [options]\n\n"
      "Turns a prompt into a video with kinema's own default model (or --model DIR). The prompt is first\n"
      "expanded into the detailed caption style the model was trained on (shown; --no-expand skips it).\n"
      "Prompts are checked against the usage policy first (`kinema check-prompt`); a refused prompt writes\n"
      "nothing and exits 5. Output files carry C2PA content credentials (`kinema verify FILE`). Examples:\n"
      "  kinema generate \"a red circle moves right\" -o red.mp4\n"
      "  kinema generate \"a blue star on a night sky\" -o star.png          # an image\n"
      "  kinema generate \"two yellow squares fall\" --size 160x96 --seconds 2 --seed 7 -o fall.webm\n"
      "  kinema generate \"a red ball rolls away\" --image ball.png -o rolls.mp4    # image-to-video\n"
      "  kinema generate \"a star circles the sky\" --seconds 60 -o minute.mp4      # chunked, streamed\n"
      "  kinema generate \"a red ball rolls [shot] close-up of the ball\" --seconds 4 # two shots, one cut\n"
      "  kinema generate --storyboard shots.json -o story.mp4                      # shots from a file\n"
      "  kinema generate \"@Bob bounces\" -o bob.mp4          # a character (`kinema character create`)\n\n");
  print_options(options());
}


Frame read_given_image(const std::string& path, int width, int height) {
  check(std::filesystem::exists(path), "generate", "input file ", path, " does not exist");
  VideoReadOptions ro;
  ro.width = width, ro.height = height, ro.resize = ResizeMode::crop, ro.max_frames = 1;
  std::vector<Frame> f = read_video(path, ro);
  check(!f.empty(), "generate", path, " has no frames");
  return std::move(f[0]);
}

void draw_bar(const GenerateProgress& p) {
  const int width = 24, filled = p.steps > 0 ? width * p.step / p.steps : 0;
  const double rate = p.elapsed > 0 ? p.step / p.elapsed : 0;
  const int eta = rate > 0 ? int((p.steps - p.step) / rate + 0.5) : 0;
  std::fprintf(stderr, "\rsampling %d/%d [%s%s] %.2f it/s ETA %d:%02d   ", p.step, p.steps,
               std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), ' ').c_str(),
               rate, eta / 60, eta % 60);
}

// A video longer than one chunk: chunks stream into the writer (only one chunk is held), with
// 8 frames kept for the preview and the continuity scorecard beside the file.
int write_chunked(const Pipeline& pipe, const GenerateCli& c, const GenerateRequest& r,
                  const std::function<void(const GenerateProgress&)>& bar) {
  if (r.sequence_parallel && !r.sequence_parallel->is_root()) {  // rank 0 writes the file
    generate_long(pipe, r, c.mode, [](const Frame&) {}, {});
    return 0;
  }
  Provenance prov;
  prov.model_name = pipe.manifest().name, prov.model_hash = pipe.model_digest(), prov.seed = r.seed;
  prov.sampler = {{"sampler", r.sampler}, {"steps", std::to_string(r.steps)}, {"cfg", std::to_string(r.cfg)},
                  {"chunk_frames", std::to_string(chunk_frames(pipe, c.mode))},
                  {"context", std::to_string(c.mode.context_latents)}, {"anchor", c.mode.anchor ? "1" : "0"}};
  prov.prompt = r.prompt, prov.record_prompt = c.record_prompt;
  SignedOutput out({c.out, c.preview, r.width, r.height, r.fps, r.frames, prov, c.watermark_key, c.frames});
  ContinuityMeter meter(SubjectOptions{std::max(1, r.frames / 240)});  // ~240 frames go to the detector
  ModeResult m = generate_long(pipe, r, c.mode, [&](const Frame& f) {
    meter.add(f);
    out.write(f);
  }, bar);
  out.close();
  if (!c.quiet) std::fprintf(stderr, "\n");
  const ContinuityScorecard card = meter.finish(m.seams, "long", false);
  std::ofstream(c.out + ".continuity.json") << scorecard_json(card) << "\n";
  std::fprintf(stderr, "%s\n", scorecard_summary(card).c_str());
  std::printf("%s\n", c.out.c_str());
  if (!c.quiet)
    std::fprintf(stderr, "wrote %s (%d frames in %d chunks, at most %lld latent frames live)\n", c.out.c_str(),
                 out.frames_written(), m.chunks, static_cast<long long>(m.peak_latent_frames));
  return 0;
}

// Storyboards run on the mode commands' shared pieces (mode_cli.hpp).
int storyboard(const GenerateCli& c) {
  check(c.image.empty() && c.last_image.empty(), "generate", "--image and --last-image do not apply to a storyboard");
  ModeCli m;
  m.req = c.req, m.out = c.out, m.model = c.model, m.size = c.size, m.policy = c.policy, m.preview = c.preview;
  m.type = c.type, m.seconds = c.seconds, m.mode = c.mode, m.no_expand = c.no_expand;
  m.record_prompt = c.record_prompt, m.quiet = c.quiet, m.no_frame_review = c.no_frame_review;
  m.watermark_key = c.watermark_key, m.no_paste = c.no_paste, m.no_anchor = c.no_anchor;
  return run_storyboard(m, c.storyboard);
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  GenerateCli c;
  SplitArguments args = split_arguments(options(), argc, argv, 1);  // the prompt
  if (!args.positionals.empty()) c.req.prompt = args.positionals[0];
  std::vector<char*>& rest = args.options;
  if (!parse_options(options(), int(rest.size()), rest.data(), c, "generate")) return print_help(), 0;
  if (!c.storyboard.empty() || has_shot_markers(c.req.prompt)) return storyboard(c);
  check(!c.req.prompt.empty(), "generate", "give a prompt: kinema generate \"a red circle moves right\" -o out.mp4");
  // Prompt policy (docs/safety.md): refuse before any work and write nothing. A negative
  // prompt names what to avoid ("blood, gore" is a normal one), so only the rule no policy
  // can lift applies to it. The same file sets the frame review.
  const PromptPolicy policy = load_prompt_policy(c.policy);
  c.frames = frame_policy(policy, c.no_frame_review);
  {
    for (const std::string* text : {&c.req.prompt, &c.req.negative}) {
      if (text->empty()) continue;
      const PolicyDecision d = policy.check(*text);
      if (d.allowed || (text == &c.req.negative && d.category != "sexual_minors")) continue;
      std::fprintf(stderr, "kinema generate: refused (%s) by rule '%s' on '%s': %s; no file written\n",
                   d.category.c_str(), d.rule.c_str(), d.matched.c_str(), d.explanation.c_str());
      return kRefusedExit;
    }
  }
  if (!c.size.empty()) {
    int w = 0, h = 0;
    char x = 0;
    check(std::sscanf(c.size.c_str(), "%d%c%d", &w, &x, &h) == 3 && x == 'x' && w > 0 && h > 0, "generate",
          "--size needs WxH, e.g. 128x128; got '", c.size, "'");
    c.req.width = w, c.req.height = h;
  }
  const VideoFormat format = format_from_path(c.out);
  check_vae_tile(c.req.vae_tile, "generate");
  c.req.expand = !c.no_expand;
  Pipeline pipe = Pipeline::load(c.model.empty() ? default_model_dir() : c.model, load_options(c.type));
  if (c.req.frames <= 0 && format == VideoFormat::png) c.req.frames = 1;
  if (c.seconds != 0) {
    check(c.seconds > 0 && c.seconds <= kMaxSeconds, "generate", "--seconds must lie in (0, ", kMaxSeconds, "]; got ",
          c.seconds);
    const int fps = c.req.fps > 0 ? c.req.fps : pipe.manifest().fps;
    const int k = std::max(0, int(std::lround(c.seconds * fps / 4.0)));
    c.req.frames = 1 + 4 * k;
  }
  c.req.paste_known = !c.no_paste;
  c.mode.anchor = !c.no_anchor;
  const int wanted = c.req.frames > 0 ? c.req.frames : pipe.manifest().frames;
  const bool chunked = format != VideoFormat::png && format != VideoFormat::jpeg &&
                       wanted > chunk_frames(pipe, c.mode);
  GenerateRequest r = c.req;
  if (launched_by_mpi()) {  // mpirun -np N: the ranks share each DiT forward; rank 0 reports and writes
    r.sequence_parallel = &world_comm();
    c.quiet = c.quiet || !world_comm().is_root();
  }
  if (chunked) r.frames = chunk_frames(pipe, c.mode);  // checks and memory at one chunk
  r = pipe.resolve(r);
  if (chunked) r.frames = wanted;
  check(r.frames == 1 || format != VideoFormat::png, "generate",
        "a .png output holds one frame; use --frames 1, or write .mp4/.webm/.gif for ", r.frames, " frames");
  if (!c.image.empty()) r.known.push_back({0, read_given_image(c.image, r.width, r.height)});
  if (!c.last_image.empty()) {
    check(r.frames > 1, "generate", "--last-image needs a video (more than one frame)");
    r.known.push_back({r.frames - 1, read_given_image(c.last_image, r.width, r.height)});
  }
  resolve_characters(pipe, r, c.quiet);  // @NAME: the reference in front, a description in the caption
  if (!c.quiet)
    std::fprintf(stderr, "model %s: %dx%d, %d frames at %d fps, %d %s steps, cfg %g, seed %llu%s%s\n",
                 pipe.manifest().name.c_str(), r.width, r.height, r.frames, r.fps, r.steps, r.sampler.c_str(),
                 double(r.cfg), static_cast<unsigned long long>(r.seed), chunked ? " (in chunks)" : "",
                 r.vae_tile.tile > 0 ? (", VAE decode in tiles of " + std::to_string(r.vae_tile.tile)).c_str() : "");
  std::function<void(const GenerateProgress&)> bar = c.quiet ? std::function<void(const GenerateProgress&)>{} : draw_bar;
  std::optional<DenoiseTrace> trace;  // checked on every rank, drawn by rank 0
  check(c.trace.empty() || !chunked, "generate", "--trace draws one clip's sampling; this video is made in chunks (shorten it)");
  if (!c.trace.empty()) trace.emplace(pipe, c.trace, c.trace_every);
  if (trace && (!r.sequence_parallel || r.sequence_parallel->is_root()))
    bar = [&trace, quiet = c.quiet](const GenerateProgress& p) {
      trace->add(p);
      if (!quiet) draw_bar(p);
    };
  if (chunked) return write_chunked(pipe, c, r, bar);
  GenerateResult g = pipe.generate(r, bar);
  if (r.sequence_parallel && !r.sequence_parallel->is_root()) return 0;
  if (trace) trace->write();
  if (!c.quiet) {
    std::fprintf(stderr, "\n");
    if (r.expand) std::fprintf(stderr, "caption: %s\n", g.caption.c_str());
    for (const auto& n : g.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    if (g.planned)
      std::fprintf(stderr, "plan: the model draws the caption's %zu object(s) where the expanded scene puts them "
                           "(--no-layout: from the caption alone)\n", g.scene.objects.size());
  }

  Provenance prov;
  prov.model_name = pipe.manifest().name;
  prov.model_hash = pipe.model_digest();
  prov.seed = r.seed;
  prov.sampler = {{"sampler", g.sampler}, {"steps", std::to_string(g.steps)}, {"cfg", std::to_string(g.cfg)},
                  {"shift", std::to_string(g.shift)}};
  prov.prompt = r.prompt;
  prov.record_prompt = c.record_prompt;
  SignedOutput out({c.out, c.preview, g.frames[0].width, g.frames[0].height, g.fps, int(g.frames.size()), prov,
                    c.watermark_key, c.frames});
  for (Frame& f : g.frames) out.write(std::move(f));
  const std::string preview = out.close();
  std::printf("%s\n", c.out.c_str());
  if (!c.quiet)
    std::fprintf(stderr, "wrote %s (%zu frames; text %.2f s, sampling %.2f s, decode %.2f s)%s%s\n", c.out.c_str(),
                 g.frames.size(), g.seconds.text, g.seconds.sampling, g.seconds.decode,
                 preview.empty() ? "" : "; preview ", preview.c_str());
  return 0;
}

}  // namespace kinema::cli
