// The modes benchmark's driver (kinema/modes_scorecard.hpp): held-out prompts in the order
// `kinema scorecard` draws them, every mode on each (src/generate/modes_measure.cpp), then the
// figures, and the 60 s check when asked.
#include "kinema/modes_scorecard.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "generate/modes_measure.hpp"
#include "kinema/error.hpp"
#include "kinema/heldout_prompts.hpp"

namespace kinema {
namespace {

using Clock = std::chrono::steady_clock;
using Measure = void (*)(const Pipeline&, const detail::ModeCase&, PromptMeasures&);

void extend_forward(const Pipeline& p, const detail::ModeCase& c, PromptMeasures& m) { detail::measure_extend(p, c, false, m); }
void extend_backward(const Pipeline& p, const detail::ModeCase& c, PromptMeasures& m) { detail::measure_extend(p, c, true, m); }

const std::vector<std::pair<const char*, Measure>>& measures() {
  static const std::vector<std::pair<const char*, Measure>> t = {
      {"image-to-video", detail::measure_image_to_video}, {"extend forward", extend_forward},
      {"extend backward", extend_backward}, {"join", detail::measure_join}, {"loop", detail::measure_loop},
      {"multi-shot", detail::measure_multishot}, {"characters", detail::measure_character},
      {"edit", detail::measure_edit}};
  return t;
}

void say(const ModesScorecardOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char b[16];
  std::strftime(b, sizeof b, "%Y-%m-%d", &tm);
  return b;
}

// Every mode on one prompt. A mode that throws is a note (and no measure), not the end of the run.
PromptMeasures measure_prompt(const Pipeline& pipe, const detail::ModeCase& c, const ModesScorecardOptions& o,
                              int index) {
  PromptMeasures m;
  m.prompt = c.base.prompt, m.seed = c.base.seed;
  say(o, "prompt " + std::to_string(index + 1) + "/" + std::to_string(o.prompts) + ": " + c.base.prompt);
  for (const auto& [name, fn] : measures()) {
    const auto t0 = Clock::now();
    try {
      fn(pipe, c, m);
    } catch (const Error& e) {
      m.notes.push_back(std::string(name) + ": " + e.what());
    }
    char b[96];
    std::snprintf(b, sizeof b, "  %-16s %6.1f s", name, std::chrono::duration<double>(Clock::now() - t0).count());
    say(o, b);
  }
  return m;
}

ModesScorecard header(const Pipeline& pipe, const ModesScorecardOptions& o, const detail::ModeCase& c) {
  ModesScorecard card;
  card.model = pipe.manifest().name, card.model_digest = pipe.model_digest(), card.date = today_utc();
  card.width = c.base.width, card.height = c.base.height, card.fps = c.base.fps, card.clip_frames = c.F;
  card.new_frames = c.n, card.steps = o.steps > 0 ? o.steps : pipe.manifest().steps;
  card.cfg = o.cfg >= 0 ? o.cfg : pipe.manifest().cfg, card.edit_strength = o.edit_strength;
  return card;
}

// The 60 s check on the first prompt: its figures, and both renders into card.long_renders.
void long_check(const Pipeline& pipe, const GenerateRequest& base, const ModesScorecardOptions& o,
                const ModeOptions& mode, ModesScorecard& card) {
  if (!o.long_check) {
    for (ModeFigure& f : long_render_figures(nullptr, nullptr, "not run (--long)")) card.figures.push_back(std::move(f));
    return;
  }
  say(o, "60 s check: " + base.prompt);
  for (double seconds : {o.short_seconds, o.long_seconds}) {
    card.long_renders.push_back(measure_long_render(pipe, base, seconds, mode));
    char b[128];
    std::snprintf(b, sizeof b, "  %.0f s render: %.1f s (CPU %.1f s)", seconds, card.long_renders.back().wall_seconds,
                  card.long_renders.back().cpu_seconds);
    say(o, b);
  }
  for (ModeFigure& f : long_render_figures(&card.long_renders[0], &card.long_renders[1])) card.figures.push_back(std::move(f));
}

}  // namespace

ModesScorecard run_modes_scorecard(const Pipeline& pipe, const ModesScorecardOptions& o) {
  const ModelManifest& mf = pipe.manifest();
  check(mf.world_prompts, "modes scorecard", "model '", mf.name, "' takes prompts as written; the modes ",
        "benchmark renders and judges the scene a prompt expands to, so it needs a model trained on the ",
        "procedural world's captions (the default model)");
  check(o.prompts >= 1, "modes scorecard", "--prompts must be at least 1; got ", o.prompts);
  check(!o.long_check || (o.long_seconds > o.short_seconds && o.short_seconds > 0 && o.long_seconds <= kMaxSeconds),
        "modes scorecard", "--long compares a long render with a shorter one, at most ", kMaxSeconds,
        " s; got --long-seconds ", o.long_seconds, " and --short-seconds ", o.short_seconds,
        " (the long one must be longer)");
  check(o.edit_strength >= 0 && o.edit_strength <= 1, "modes scorecard", "--strength must lie in [0, 1]; got ",
        o.edit_strength);
  check(o.plan_guidance >= -1 && o.plan_guidance <= 1, "modes scorecard",
        "--plan-guidance is 0, 1 or -1 (the model's); got ", o.plan_guidance);
  ModeOptions mode;
  mode.context_latents = o.context_latents, mode.chunk_frames = o.chunk_frames, mode.seam_fade = o.seam_fade;
  mode.guidance_ramp = o.guidance_ramp;
  HeldOutPrompts heldout(o.seed, {mf.sizes[0].first, mf.sizes[0].second, mf.fps, mf.frames});
  const int new_frames = frames_for_seconds(o.seconds, mf.fps);
  std::vector<detail::ModeCase> cases;
  for (int drawn = 0; int(cases.size()) < o.prompts; ++drawn) {
    check(drawn < 100 * o.prompts, "modes scorecard", "the world's expansion understood none of ", drawn,
          " held-out prompts; is the lexicon intact (kinema world expand)?");
    GenerateRequest r;
    r.prompt = heldout.next().prompt, r.seed = heldout.generation_seed(int64_t(cases.size()));
    r.steps = o.steps, r.cfg = o.cfg, r.layout = o.layout, r.plan_guidance = o.plan_guidance;
    detail::ModeCase c;
    c.mode = mode, c.strength = o.edit_strength;
    if (detail::make_mode_case(pipe, r, new_frames, c)) cases.push_back(std::move(c));
  }
  ModesScorecard card = header(pipe, o, cases[0]);
  card.prompts = o.prompts;
  for (size_t i = 0; i < cases.size(); ++i) {
    card.per_prompt.push_back(measure_prompt(pipe, cases[i], o, int(i)));
    for (const std::string& n : card.per_prompt.back().notes) card.notes.push_back("prompt " + std::to_string(i + 1) + ": " + n);
  }
  card.figures = aggregate_mode_figures(card.per_prompt);
  long_check(pipe, cases[0].base, o, mode, card);
  return card;
}

}  // namespace kinema
