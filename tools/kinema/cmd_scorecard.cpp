// `kinema scorecard`: the default model's prompt-following, measured by the world judge on
// held-out prompts (combinations never in training): per-claim-kind pass rates, a JSON report
// and a grid of samples with their prompts.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/heldout_prompts.hpp"
#include "kinema/media.hpp"
#include "kinema/modes_scorecard.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/world.hpp"
#include "mode_cli.hpp"
#include "option_table.hpp"

namespace fs = std::filesystem;

namespace kinema::cli {
int cmd_scorecard_modes(int argc, char** argv);  // cmd_scorecard_modes.cpp: --modes

namespace {

struct ScoreCli {
  std::string model, out = "scorecard", split = "heldout";
  int64_t prompts = 50, seed = 1;
  GenerateRequest req;  // every sample's settings (steps, guidance, frames): 0 or < 0 the model's
  float from_noise = 1;  // 1: pure noise (text-to-video); below: SDEdit of the rendered scene
  bool focus = false;    // every prompt one large object alone: shape reading in its plainest case
};

const std::vector<Option<ScoreCli>>& options() {
  static const std::vector<Option<ScoreCli>> table = [] {
    std::vector<Option<ScoreCli>> rows = {
      {"--model", "DIR", "model directory (default: the shipped model)", KINEMA_OPT_STRING(model)},
      {"--out", "DIR", "report.json, grid.png (16 samples) and prompts.md", KINEMA_OPT_STRING(out)},
      {"--prompts", "N", "held-out prompts to generate and judge", KINEMA_OPT_INT(prompts)},
      {"--steps", "N", "sampling steps (default: the model's)", KINEMA_OPT_INT(req.steps)},
      {"--cfg", "X", "guidance scale (default: the model's)", KINEMA_OPT_FLOAT(req.cfg)},
      {"--seed", "N", "which held-out prompts (and the generation seeds)", KINEMA_OPT_INT(seed)},
      {"--frames", "T", "frames of each sample (default: the model's; 1: text-to-image, whose scenes hold still)",
       KINEMA_OPT_INT(req.frames)},
      {"--split", "S",
       "heldout: prompts with combinations training never sees (the gate); training: fresh scenes of "
       "the training distribution (the control: a kind that passes there but not held out fails on "
       "composition)",
       KINEMA_OPT_STRING(split)},
      {"--focus", "",
       "every prompt one large object alone (training's focus samples): its shape claim measures "
       "whether the model reads shape words when nothing else is in the way; held out, only the 4 "
       "held-out colour x shape pairs",
       KINEMA_OPT_FLAG(focus)},
      {"--from-noise", "T",
       "start each sample from the prompt's own rendered scene noised to level T in (0, 1] (SDEdit) "
       "instead of pure noise: T near 0 measures the VAE's round trip, 1 is text-to-video; the level "
       "at which a claim kind fails shows which noise levels the DiT has not learnt",
       KINEMA_OPT_FLOAT(from_noise)},
    };
    for (auto& row : guidance_options<ScoreCli>()) rows.push_back(std::move(row));
    return rows;
  }();
  return table;
}

// The categories: claim kinds of the judge grouped under the names the gate uses.
const std::map<std::string, std::string>& gate_names() {
  static const std::map<std::string, std::string> m = {
      {"color", "colour"}, {"shape", "shape"}, {"count", "count"}, {"relation", "relative position"},
      {"position", "relative position"}, {"motion", "motion direction"}, {"background", "background"},
      {"occlusion", "object permanence"}, {"cause_effect", "cause-effect trace"},
      {"event_order", "event order"}, {"cross_shot", "cross-shot consistency"}};
  return m;
}

world::Image to_image(const Frame& f) { return world::Image{f.width, f.height, f.rgb}; }

}  // namespace

int cmd_scorecard(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--modes") return cmd_scorecard_modes(argc, argv);
  ScoreCli c;
  if (!parse_options(options(), argc, argv, c, "scorecard")) {
    std::printf("usage: kinema scorecard [--model DIR] [--prompts N] [--out DIR]\n"
                "       kinema scorecard --modes [--prompts N] [--out DIR] [--long]   (see --modes --help)\n\n"
                "Generates a clip for each of N held-out prompts (colour/shape and behaviour/relation\n"
                "combinations that training never sees), judges it against the scene its prompt describes,\n"
                "and reports the pass rate per claim kind. With --modes: every mode of docs/modes.md\n"
                "(image-to-video, extend, join, loop, multi-shot, characters, edit, 60 s) on the same\n"
                "prompts, measured against issue 10's bars.\n\n");
    print_options(options());
    return 0;
  }
  check(c.from_noise > 0 && c.from_noise <= 1, "scorecard", "--from-noise must lie in (0, 1]; got ", c.from_noise);
  check(c.split == "heldout" || c.split == "training", "scorecard", "--split must be heldout or training; got '",
        c.split, "'");
  const char* env = std::getenv("KINEMA_MODEL");
  Pipeline pipe = Pipeline::load(!c.model.empty() ? c.model : env ? env : KINEMA_DEFAULT_MODEL_DIR);
  fs::create_directories(c.out);
  const auto [w, h] = pipe.manifest().sizes[0];
  check(c.req.frames >= 0, "scorecard", "--frames must be positive (0: the model's); got ", c.req.frames);
  const int frames = c.req.frames > 0 ? c.req.frames : pipe.manifest().frames;
  std::map<std::string, std::pair<int, int>> kinds;  // kind -> (pass, total)
  std::vector<Frame> grid_frames;
  std::ofstream md(fs::path(c.out) / "prompts.md");
  md << "| # | prompt | claims passed | clutter |\n|---|---|---|---|\n";
  HeldOutPrompts heldout(uint64_t(c.seed), {w, h, pipe.manifest().fps, frames, c.focus},
                         c.split == "training" ? PromptSplit::training : PromptSplit::held_out);
  int64_t done = 0, pass_all = 0, total_all = 0, pass_clean = 0, cluttered_samples = 0;
  while (done < c.prompts) {
    GenerateRequest r = c.req;
    r.prompt = heldout.next().prompt;
    r.seed = heldout.generation_seed(done);
    r.width = w, r.height = h, r.frames = frames;
    if (c.from_noise < 1) {  // the scene generation would expand the prompt to, rendered, then noised
      const world::Expansion e =
          world::expand(r.prompt, r.seed, {w, h, pipe.manifest().fps, frames});
      if (!e.understood) continue;
      r.edit = render_frames(e.scene), r.strength = c.from_noise;
    }
    GenerateResult g = pipe.generate(r);
    if (!g.expanded) continue;  // the expansion did not understand its own prompt: not the model's fault
    std::vector<world::Image> frames;
    for (const Frame& f : g.frames) frames.push_back(to_image(f));
    world::Scorecard card = world::judge(frames, g.scene);
    int passed = 0;
    bool cluttered = false;
    std::string clutter;
    for (const world::Claim& cl : card.claims) {
      auto& k = kinds[cl.kind];
      k.first += cl.pass, k.second += 1, passed += cl.pass;
      if (cl.kind == "clutter") cluttered = !cl.pass, clutter = cl.text;
    }
    pass_all += passed, total_all += int64_t(card.claims.size());
    // A claim "holds" in a frame strewn with blobs of every colour only by accident.
    if (!cluttered) pass_clean += passed;
    cluttered_samples += cluttered;
    if (grid_frames.size() < 16) grid_frames.push_back(g.frames[g.frames.size() / 2]);
    md << "| " << done << " | " << r.prompt << " | " << passed << "/" << card.claims.size() << " | " << clutter << " |\n";
    ++done;
    std::fprintf(stderr, "\r%lld/%lld prompts, %.1f%% of claims pass   ", static_cast<long long>(done),
                 static_cast<long long>(c.prompts), 100.0 * double(pass_all) / double(std::max<int64_t>(1, total_all)));
  }
  std::fprintf(stderr, "\n");
  std::ofstream js(fs::path(c.out) / "report.json");
  js << "{\n  \"model\": \"" << pipe.manifest().name << "\", \"prompts\": " << c.prompts
     << ", \"frames\": " << frames << ", \"from_noise\": " << c.from_noise << ", \"split\": \"" << c.split
     << "\", \"focus\": " << (c.focus ? "true" : "false") << ",\n  \"pass\": " << pass_all
     << ", \"total\": " << total_all << ", \"pass_uncluttered\": " << pass_clean
     << ", \"cluttered_samples\": " << cluttered_samples << ",\n  \"kinds\": {";
  bool first = true;
  std::printf("%-26s %8s %8s\n", "claim kind (gate name)", "pass", "of");
  for (const auto& [kind, pt] : kinds) {
    auto it = gate_names().find(kind);
    std::string label = kind + (it != gate_names().end() ? " (" + it->second + ")" : "");
    std::printf("%-26s %7.1f%% %8d\n", label.c_str(), 100.0 * pt.first / pt.second, pt.second);
    js << (first ? "" : ",") << "\n    \"" << kind << "\": {\"pass\": " << pt.first << ", \"total\": " << pt.second << "}";
    first = false;
  }
  js << "\n  }\n}\n";
  const double all = double(std::max<int64_t>(1, total_all));
  std::printf("all claims %.1f%% (%lld/%lld); in uncluttered samples only %.1f%% (%lld of %lld samples cluttered)\n",
              100.0 * double(pass_all) / all, static_cast<long long>(pass_all), static_cast<long long>(total_all),
              100.0 * double(pass_clean) / all, static_cast<long long>(cluttered_samples), static_cast<long long>(done));
  // 4 x 4 grid of middle frames, in prompt order (prompts.md lists them).
  if (!grid_frames.empty()) {
    const int cols = 4, rows = int((grid_frames.size() + 3) / 4), fw = grid_frames[0].width, fh = grid_frames[0].height;
    Frame grid{cols * fw, rows * fh, std::vector<uint8_t>(size_t(cols * fw) * size_t(rows * fh) * 3, 255)};
    for (size_t i = 0; i < grid_frames.size(); ++i)
      for (int y = 0; y < fh; ++y)
        std::copy_n(&grid_frames[i].rgb[size_t(y) * fw * 3], fw * 3,
                    &grid.rgb[((size_t(i / 4) * fh + y) * grid.width + (i % 4) * fw) * 3]);
    write_image((fs::path(c.out) / "grid.png").string(), grid);
  }
  return 0;
}

}  // namespace kinema::cli
