// The data set writer: streaming, resumable shards of (frames, spec, detailed caption, short
// prompt) at several resolutions, aspect ratios and durations, images as one-frame clips, a
// held-out split by combinations, and a held-out prompt set with specs.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "world/internal.hpp"
#include "world/scene_facts.hpp"

namespace kinema::world {
namespace {

namespace fs = std::filesystem;

// Held-out colour x shape pairs and behaviour x relation pairs (behaviour of the first object
// of a relation). Chosen so that every colour, shape, behaviour and relation still appears in
// training on its own.
const std::pair<Color, Shape> kHeldColorShape[] = {
    {Color::red, Shape::star}, {Color::blue, Shape::heart}, {Color::green, Shape::triangle}, {Color::yellow, Shape::ring}};
const std::pair<Behavior, const char*> kHeldBehaviorRelation[] = {{Behavior::rotate, "above"}, {Behavior::grow, "left_of"}};

struct Variant { int width, height, fps, frames; };
// Resolutions, aspect ratios (1:1, 16:9, 9:16, 4:3) and durations; every 8th clip is an image.
const Variant kVariants[] = {{128, 128, 12, 24}, {192, 108, 12, 24}, {108, 192, 12, 24}, {160, 120, 8, 16},
                             {256, 256, 12, 36}, {128, 128, 12, 36}, {96, 96, 12, 12},  {128, 128, 1, 1}};

std::set<std::string> done_ids(const fs::path& manifest) {
  std::set<std::string> ids;
  std::ifstream f(manifest);
  std::string line;
  while (std::getline(f, line)) {
    try {
      const auto j = nlohmann::json::parse(line);
      ids.insert(j.at("id").get<std::string>());
    } catch (const std::exception&) {
      // A torn last line from an interrupted run: that clip is rewritten.
    }
  }
  return ids;
}

}  // namespace

bool is_held_out(const Scene& s) {
  for (const Object& o : s.objects)
    for (const auto& [c, sh] : kHeldColorShape)
      if (o.color == c && o.shape == sh) return true;
  const SceneFacts facts = scene_facts(s);
  for (const Relation& r : facts.rel)
    for (const auto& [b, kind] : kHeldBehaviorRelation)
      if (s.objects[r.a].behavior == b && r.kind == kind) return true;
  return false;
}

DatasetReport write_dataset(const DatasetOptions& opt) {
  check(!opt.out.empty(), "world.dataset", "missing the output directory");
  check(opt.clips >= 0, "world.dataset", "clip count must be >= 0; got ", opt.clips);
  const fs::path dir(opt.out);
  fs::create_directories(dir);
  const fs::path manifest = dir / "manifest.jsonl";
  const std::set<std::string> done = done_ids(manifest);
  std::ofstream man(manifest, std::ios::app);
  check(bool(man), "world.dataset", "cannot append to ", manifest.string());
  DatasetReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::pair<Scene, uint64_t>> heldout_scenes;
  for (int i = 0; i < opt.clips; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "clip-%07d", i);
    const uint64_t seed = mix_seed(opt.seed, uint64_t(i));
    const Variant& v = kVariants[i % 8];
    const Scene s = sample_scene(seed, {v.width, v.height, v.fps, v.frames});
    const bool held = is_held_out(s);
    if (held && int(heldout_scenes.size()) < opt.heldout_prompts) heldout_scenes.push_back({s, seed});
    if (done.count(id)) { ++rep.skipped; rep.heldout += held; continue; }
    char shard[32];
    std::snprintf(shard, sizeof shard, "shard-%04d", i / 1000);
    fs::create_directories(dir / shard);
    const std::string file = std::string(shard) + "/" + id + ".png";
    const std::vector<Image> frames = render(s);
    write_png_strip((dir / file).string(), frames);
    const nlohmann::json line = {
        {"id", id}, {"split", held ? "heldout" : "train"}, {"file", file}, {"width", s.width}, {"height", s.height},
        {"fps", s.fps}, {"frames", s.frames}, {"image", s.frames == 1}, {"caption", detailed_caption(s, seed)},
        {"prompt", short_prompt(s, seed)}, {"spec", nlohmann::json::parse(to_json(s))}};
    man << line.dump() << "\n";
    man.flush();  // a clip counts as written once its manifest line is complete
    ++rep.written;
    rep.heldout += held;
    rep.frames += s.frames;
  }
  // The held-out prompt set: short prompts with the specs they came from.
  std::ofstream hp(dir / "heldout_prompts.jsonl", std::ios::trunc);
  for (const auto& [s, seed] : heldout_scenes)
    hp << nlohmann::json{{"prompt", short_prompt(s, seed)}, {"caption", detailed_caption(s, seed)},
                         {"spec", nlohmann::json::parse(to_json(s))}}.dump()
       << "\n";
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

int run_dataset(int argc, char** argv) {
  DatasetOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    check(i + 1 < argc, "world dataset", "option ", a, " needs a value");
    const std::string v = argv[++i];
    if (a == "--out") opt.out = v;
    else if (a == "--clips") opt.clips = std::stoi(v);
    else if (a == "--seed") opt.seed = std::stoull(v);
    else if (a == "--heldout-prompts") opt.heldout_prompts = std::stoi(v);
    else fail("world dataset", "unknown option '", a, "'; expected --out DIR --clips N [--seed N] [--heldout-prompts N]");
  }
  const DatasetReport r = write_dataset(opt);
  std::printf("dataset %s: wrote %d clips (%ld frames), skipped %d already present, %d held out; %.1f s, %.1f clips/s, %.0f frames/s\n",
              opt.out.c_str(), r.written, r.frames, r.skipped, r.heldout, r.seconds, r.written / std::max(1e-9, r.seconds),
              r.frames / std::max(1e-9, r.seconds));
  return 0;
}

}  // namespace kinema::world
