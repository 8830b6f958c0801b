// `kinema world ...`: render scenes, print captions, expand prompts, write data sets, and
// measure the judge's own accuracy (selftest).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/world.hpp"
#include "world/lexicon.hpp"
#include "world/wordmap.hpp"

namespace kinema::world {
// Implemented in src/world (dataset.cpp, selftest.cpp).
int run_dataset(int argc, char** argv);
int run_selftest(int argc, char** argv);
}  // namespace kinema::world

namespace kinema::cli {
namespace {

using namespace kinema::world;

const char* kWorldHelp =
    "usage:\n"
    "  kinema world render \"prompt\" | --seed N | --spec FILE  -o out.mp4|.webm|.gif|.png [--size WxH] [--fps N]\n"
    "                      [--frames N] [--sheet] [--json]\n"
    "  kinema world expand \"prompt\" [--seed N]     parse a prompt; print caption, spec, mappings\n"
    "  kinema world caption --seed N | --spec FILE  print the detailed caption and a short prompt\n"
    "  kinema world dataset --out DIR --clips N [--seed N]   write training shards (resumable)\n"
    "  kinema world selftest [--clips N] [--reencode] [--downscale] [--blur PASSES] [--kind KIND]\n"
    "                        [--seed N] [--size N] [--negatives N] [--dump-failures DIR] [--replay FILE]\n"
    "                                               measure the judge's accuracy (per claim kind): N clips\n"
    "                                               rendered, optionally H.264 CRF 28 / 2x downscaled /\n"
    "                                               blurred, judged against their own scene and perturbed ones;\n"
    "                                               --kind targets one claim kind, --dump-failures writes each\n"
    "                                               miss as JSON, --replay FILE judges one again (docs/world.md)\n"
    "  kinema world vocab                           vocabulary size\n";

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  check(bool(f), "world", "cannot open ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Tiles up to 12 frames into one image, for looking at a clip at a glance.
Image contact_sheet(const std::vector<Image>& frames) {
  const int n = std::min<int>(12, int(frames.size())), cols = std::min(n, 6), rows = (n + cols - 1) / cols;
  const int W = frames[0].width, H = frames[0].height;
  Image out{W * cols, H * rows, std::vector<uint8_t>(size_t(W) * cols * H * rows * 3, 0)};
  for (int i = 0; i < n; ++i) {
    const Image& f = frames[size_t(i) * frames.size() / n];
    const int ox = (i % cols) * W, oy = (i / cols) * H;
    for (int y = 0; y < H; ++y)
      std::memcpy(&out.rgb[(size_t(oy + y) * out.width + ox) * 3], &f.rgb[size_t(y) * W * 3], size_t(W) * 3);
  }
  return out;
}

int world_render(int argc, char** argv) {
  std::string prompt, spec_path, out;
  uint64_t seed = 0;
  bool have_seed = false, sheet = false, print_json = false;
  SampleOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      check(i + 1 < argc, "world render", "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "-o") out = value();
    else if (a == "--seed") seed = std::strtoull(value().c_str(), nullptr, 10), have_seed = true;
    else if (a == "--spec") spec_path = value();
    else if (a == "--size") check(std::sscanf(value().c_str(), "%dx%d", &opt.width, &opt.height) == 2, "world render", "--size wants WxH");
    else if (a == "--fps") opt.fps = std::atoi(value().c_str());
    else if (a == "--frames") opt.frames = std::atoi(value().c_str());
    else if (a == "--sheet") sheet = true;
    else if (a == "--json") print_json = true;
    else if (a[0] != '-' && prompt.empty()) prompt = a;
    else fail("world render", "unknown option '", a, "'\n", kWorldHelp);
  }
  check(!out.empty(), "world render", "missing -o OUTPUT\n", kWorldHelp);
  Scene s;
  if (!spec_path.empty()) {
    s = scene_from_json(read_text(spec_path));
  } else if (!prompt.empty()) {
    const Expansion e = expand(prompt, seed, opt);
    for (const std::string& m : e.mapped) std::fprintf(stderr, "mapped: %s\n", m.c_str());
    for (const std::string& m : e.not_understood) std::fprintf(stderr, "not understood: %s\n", m.c_str());
    check(e.understood, "world render", "the prompt names no object this world can draw; got \"", prompt, "\"");
    s = e.scene;
    std::printf("%s\n", e.caption.c_str());
  } else {
    check(have_seed, "world render", "give a prompt, --seed or --spec\n", kWorldHelp);
    s = sample_scene(seed, opt);
    std::printf("%s\n", detailed_caption(s, seed).c_str());
  }
  if (print_json) std::printf("%s\n", to_json(s).c_str());
  std::vector<Image> frames = render(s);
  if (sheet) frames = {contact_sheet(frames)};
  // Through the media writer (MP4/WebM/GIF/PNG by extension).
  kinema::VideoWriterOptions vo;
  vo.width = frames[0].width;
  vo.height = frames[0].height;
  vo.fps = s.fps;
  kinema::VideoWriter writer(out, vo);
  for (Image& f : frames) writer.write(kinema::Frame{f.width, f.height, std::move(f.rgb)});
  writer.close();
  std::fprintf(stderr, "wrote %s (%d frames, %dx%d, %d fps)\n", out.c_str(), int(frames.size()), s.width, s.height, s.fps);
  return 0;
}

int world_expand(int argc, char** argv) {
  check(argc >= 2, "world expand", "missing the prompt\n", kWorldHelp);
  uint64_t seed = 0;
  for (int i = 2; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
  const Expansion e = expand(argv[1], seed);
  for (const std::string& m : e.mapped) std::printf("mapped: %s\n", m.c_str());
  for (const std::string& m : e.not_understood) std::printf("not understood: %s\n", m.c_str());
  if (!e.understood) {
    std::printf("the prompt names no object this world can draw\n");
    return 1;
  }
  std::printf("caption: %s\nspec: %s\n", e.caption.c_str(), to_json(e.scene).c_str());
  return 0;
}

int world_caption(int argc, char** argv) {
  Scene s;
  uint64_t seed = 0;
  bool have = false;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10), s = sample_scene(seed), have = true;
    if (!std::strcmp(argv[i], "--spec")) s = scene_from_json(read_text(argv[i + 1])), have = true;
  }
  check(have, "world caption", "give --seed N or --spec FILE\n", kWorldHelp);
  std::printf("caption: %s\nprompt: %s\n", detailed_caption(s, seed).c_str(), short_prompt(s, seed).c_str());
  return 0;
}

}  // namespace

int cmd_world(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("%s", kWorldHelp);
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  for (int i = 2; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("%s", kWorldHelp);
      return 0;
    }
  if (sub == "render") return world_render(argc - 1, argv + 1);
  if (sub == "expand") return world_expand(argc - 1, argv + 1);
  if (sub == "caption") return world_caption(argc - 1, argv + 1);
  if (sub == "dataset") return run_dataset(argc - 1, argv + 1);
  if (sub == "selftest") return run_selftest(argc - 1, argv + 1);
  if (sub == "vocab") {
    std::printf("grammar lexicon: %d words (with synonyms); word-vector table: %zu more words mapped onto them\n",
                lexicon_size(), nearest_table_size());
    return 0;
  }
  fail("world", "unknown subcommand '", sub, "'\n", kWorldHelp);
}

}  // namespace kinema::cli
