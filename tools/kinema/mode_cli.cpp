// Shared pieces of the mode commands (see mode_cli.hpp).
#include "mode_cli.hpp"

#include "commands.hpp"
#include "signed_output.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kinema/c2pa.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/safety.hpp"

namespace fs = std::filesystem;

namespace kinema::cli {

std::string default_model_dir() {
  if (const char* e = std::getenv("KINEMA_MODEL")) return e;
  return KINEMA_DEFAULT_MODEL_DIR;
}

#define KI KINEMA_OPT_INT
#define KF KINEMA_OPT_FLOAT
#define KS KINEMA_OPT_STRING
std::vector<Option<ModeCli>> common_mode_options() {
  std::vector<Option<ModeCli>> rows = {
      {"-o", "FILE", "output: .mp4, .webm or .gif", KS(out)},
      {"--model", "DIR", "model directory (model.json + weights, or a Wan2.1 T2V release: docs/wan.md); default: the shipped model", KS(model)},
      {"--type", "T", "convert the DiT's matrices on load: bf16, f16, q8_0 or q4_0 (less memory; q8_0 is close to lossless)", KS(type)},
      {"--negative", "TEXT", "negative prompt: what classifier-free guidance steers away from", KS(req.negative)},
      {"--size", "WxH", "frame size, a multiple of 16 (default: the input's, rounded to 16)", KS(size)},
      {"--fps", "N", "frames per second (default: the model's)", KI(req.fps)},
      {"--steps", "N", "sampling steps (default: the model's)", KI(req.steps)},
      {"--cfg", "X", "classifier-free guidance scale (1 = off; default: the model's)", KF(req.cfg)},
      {"--sampler", "NAME", "euler, heun, unipc or dpm++ (default: the model's)", KS(req.sampler)},
      {"--seed", "N", "noise seed: same seed and settings give the same video, bit for bit", KI(req.seed)},
      {"--threads", "N", "CPU threads (0: OMP_NUM_THREADS, else all cores)", KI(req.threads)},
      {"--no-expand", "", "use the prompt as written instead of expanding it", KINEMA_OPT_FLAG(no_expand)},
      {"--preview", "FILE", "contact sheet PNG of 8 frames (default: OUT.preview.png; 'none' to skip)", KS(preview)},
      {"--record-prompt", "", "write the prompt into the C2PA credentials (off: privacy)", KINEMA_OPT_FLAG(record_prompt)},
      {"--no-frame-review", "", "skip the image classifier's review of the frames (operators only; docs/safety-frames.md)", KINEMA_OPT_FLAG(no_frame_review)},
      {"--watermark-key", "TEXT", "operator passphrase mixed into the invisible watermark (`kinema detect --key`)", KINEMA_OPT_STRING(watermark_key)},
      {"--policy", "FILE", "operator prompt policy (JSON, docs/safety.md)", KS(policy)},
      {"--quiet", "", "no progress bar", KINEMA_OPT_FLAG(quiet)},
  };
  for (auto& row : guidance_options<ModeCli>()) rows.push_back(std::move(row));
  for (auto& row : vae_tile_options<ModeCli>()) rows.push_back(std::move(row));
  return rows;
}
#undef KI
#undef KF
#undef KS

int64_t parse_vae_tile(const std::string& v) {
  if (v == "auto") return DecodeTiling::kAuto;
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  check(!v.empty() && *end == 0 && n >= 0 && n <= 1 << 20, "--vae-tile",
        "expected 0 (decode in one piece), auto, or a tile side in latent pixels (32 = 256 output pixels); got '", v,
        "'");
  return n;
}

std::string vae_tile_text(int64_t tile) { return tile == DecodeTiling::kAuto ? "auto" : std::to_string(tile); }

void check_vae_tile(const DecodeTiling& t, const char* command) {
  check(t.overlap >= 0, command, "--vae-tile-overlap must be >= 0 latent pixels; got ", t.overlap);
  check(t.tile <= 0 || t.tile > t.overlap, command, "--vae-tile ", t.tile, " must be larger than --vae-tile-overlap ",
        t.overlap, " (neighbouring tiles share the overlap); use --vae-tile ", t.overlap + 1,
        " or more, or a smaller --vae-tile-overlap");
}

bool parse_mode_cli(const std::vector<Option<ModeCli>>& table, int argc, char** argv, ModeCli& c,
                    const char* command) {
  SplitArguments args = split_arguments(table, argc, argv);
  c.inputs = std::move(args.positionals);
  return parse_options(table, int(args.options.size()), args.options.data(), c, command);
}

Pipeline load_mode_pipeline(ModeCli& c, const char* command) {
  if (!c.size.empty()) {
    int w = 0, h = 0;
    char x = 0;
    check(std::sscanf(c.size.c_str(), "%d%c%d", &w, &x, &h) == 3 && x == 'x' && w > 0 && h > 0, command,
          "--size needs WxH, e.g. 128x128; got '", c.size, "'");
    c.req.width = w, c.req.height = h;
  }
  check_vae_tile(c.req.vae_tile, command);
  c.req.expand = !c.no_expand;
  c.req.paste_known = !c.no_paste;
  c.mode.anchor = !c.no_anchor;
  if (launched_by_mpi()) {  // mpirun -np N: the ranks share each DiT forward; rank 0 reports and writes
    c.req.sequence_parallel = &world_comm();
    c.quiet = c.quiet || !world_comm().is_root();
  }
  return Pipeline::load(c.model.empty() ? default_model_dir() : c.model, load_options(c.type));
}

int check_mode_policy(ModeCli& c, const char* command) {
  const PromptPolicy policy = load_prompt_policy(c.policy);
  c.frames = frame_policy(policy, c.no_frame_review);  // the same file sets the frame review
  for (const std::string* text : {&c.req.prompt, &c.req.negative}) {
    if (text->empty()) continue;
    const PolicyDecision d = policy.check(*text);
    if (d.allowed || (text == &c.req.negative && d.category != "sexual_minors")) continue;
    std::fprintf(stderr, "kinema %s: refused (%s) by rule '%s' on '%s': %s; no file written\n", command,
                 d.category.c_str(), d.rule.c_str(), d.matched.c_str(), d.explanation.c_str());
    return kRefusedExit;
  }
  return 0;
}

std::vector<Frame> read_mode_input(const std::string& path, const Pipeline& pipe, ModeCli& c, const char* command) {
  check(fs::exists(path), command, "input file ", path, " does not exist");
  VideoReadOptions ro;
  ro.fps = c.req.fps > 0 ? c.req.fps : pipe.manifest().fps;
  ro.resize = ResizeMode::crop;
  ro.duration_s = kMaxSeconds;
  if (c.req.width > 0 && c.req.height > 0) {
    ro.width = c.req.width, ro.height = c.req.height;
  } else {
    const MediaInfo info = probe_media(path);
    auto nearest = [](int v) { return std::max(16, int(std::lround(v / 16.0)) * 16); };
    ro.width = nearest(info.width), ro.height = nearest(info.height);
    if (ro.width != info.width || ro.height != info.height)
      std::fprintf(stderr, "note: %s is %dx%d, not a multiple of 16; resized to %dx%d (centre crop)\n", path.c_str(),
                   info.width, info.height, ro.width, ro.height);
    c.req.width = ro.width, c.req.height = ro.height;
  }
  std::vector<Frame> frames = read_video(path, ro);
  check(!frames.empty(), command, path, " has no frames");
  return frames;
}

PipelineLoadOptions load_options(const std::string& type) {
  PipelineLoadOptions o;
  if (!type.empty()) o.dit_type = dtype_from_name(type);  // names the valid types when unknown
  return o;
}

ProgressFn mode_progress(const ModeCli& c) {
  if (c.quiet) return {};
  return [](const GenerateProgress& p) {
    const int width = 24, filled = p.steps > 0 ? width * p.step / p.steps : 0;
    std::fprintf(stderr, "\rsampling %d/%d [%s%s]   ", p.step, p.steps, std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(width - filled), ' ').c_str());
    if (p.step == p.steps) std::fprintf(stderr, "\n");
  };
}

void write_mode_output(const Pipeline& pipe, const ModeCli& c, const std::vector<Frame>& frames,
                       const GenerateResult& info, const ContinuityScorecard* scorecard) {
  check(!frames.empty(), "write", "no frames to write");
  if (c.req.sequence_parallel && !c.req.sequence_parallel->is_root()) return;
  Provenance prov;
  prov.model_name = pipe.manifest().name;
  prov.model_hash = pipe.model_digest();
  prov.seed = c.req.seed;
  prov.sampler = {{"sampler", info.sampler}, {"steps", std::to_string(info.steps)}, {"cfg", std::to_string(info.cfg)},
                  {"shift", std::to_string(info.shift)}};
  prov.prompt = c.req.prompt;
  prov.record_prompt = c.record_prompt;
  SignedOutput out({c.out, c.preview, frames[0].width, frames[0].height, info.fps, int(frames.size()), prov,
                    c.watermark_key, c.frames});
  for (const Frame& f : frames) out.write(f);
  out.close();
  if (scorecard) {
    std::ofstream(c.out + ".continuity.json") << scorecard_json(*scorecard) << "\n";
    std::fprintf(stderr, "%s\n", scorecard_summary(*scorecard).c_str());
  }
  std::printf("%s\n", c.out.c_str());
  if (!c.quiet) {
    for (const std::string& n : info.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    std::fprintf(stderr, "wrote %s (%zu frames)\n", c.out.c_str(), frames.size());
  }
}

}  // namespace kinema::cli
