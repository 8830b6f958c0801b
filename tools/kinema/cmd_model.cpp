// `kinema model pack|check`: assemble a model directory (the four files + model.json with
// their SHA-256 and the generation defaults) and verify one.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_use.hpp"
#include "kinema/word_separation.hpp"
#include "kinema/train.hpp"
#include "option_table.hpp"

namespace kinema::cli {
namespace {

struct PackCli {
  std::string out, dit, vae, text_encoder, tokenizer = "models/default/tokenizer.model";
  std::string dtype = "f32", sizes = "128x128,160x96,96x160";
  ModelManifest m;
  PackCli() { m.name = "kinema-default"; }
};

#define KI KINEMA_OPT_INT
#define KF KINEMA_OPT_FLOAT
#define KS KINEMA_OPT_STRING
const std::vector<Option<PackCli>>& pack_options() {
  static const std::vector<Option<PackCli>> table = {
      {"--out", "DIR", "the model directory to write", KS(out)},
      {"--dit", "FILE", "DiT weights (e.g. a training run's latest/ema.safetensors)", KS(dit)},
      {"--vae", "FILE", "VAE weights with latent statistics (kinema vae stats)", KS(vae)},
      {"--text-encoder", "FILE", "text encoder weights (not with a DiT that carries its own)", KS(text_encoder)},
      {"--tokenizer", "FILE", "sentencepiece model", KS(tokenizer)},
      {"--dtype", "f32|bf16", "storage type of the DiT's and text encoder's matrices (vectors stay f32; the VAE stays f32)", KS(dtype)},
      {"--name", "NAME", "model name (recorded in C2PA credentials)", KS(m.name)},
      {"--sizes", "LIST", "trained sizes WxH,WxH,... (the first is the default)", KS(sizes)},
      {"--fps", "N", "default frames per second", KI(m.fps)},
      {"--frames", "N", "default clip length (1 + 4k)", KI(m.frames)},
      {"--steps", "N", "default sampling steps", KI(m.steps)},
      {"--cfg", "X", "default guidance scale", KF(m.cfg)},
      {"--guidance-from", "T", "default guidance interval: from noise level T on, --cfg-high guides (0: --cfg throughout)", KF(m.guidance_from)},
      {"--cfg-high", "X", "default guidance scale at noise levels >= --guidance-from", KF(m.cfg_high)},
      {"--cfg-parallel", "X", "default projected guidance: share of the guidance step along the clean estimate (1: plain CFG)", KF(m.guidance_parallel)},
      {"--cfg-cap", "R", "default projected guidance: cap on the guidance step's RMS per latent frame (0: none)", KF(m.guidance_cap)},
      {"--plan-guidance", "0|1",
       "1: a grounded DiT's unconditional branch is drawn without the plan too, so guidance pushes towards it",
       [](const PackCli& c) { return std::string(c.m.plan_guidance ? "1" : "0"); },
       [](PackCli& c, const std::string& v) { c.m.plan_guidance = to_switch(v, "--plan-guidance"); }},
      {"--shift", "S", "default timestep shift (0: by resolution)", KF(m.shift)},
      {"--sampler", "NAME", "default sampler", KS(m.sampler)},
  };
  return table;
}
#undef KI
#undef KF
#undef KS

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  check(f.good(), "model pack", "cannot read ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Matrices (2-D and up, i.e. linear and conv weights) to bf16; vectors stay f32.
TensorFile to_storage(TensorFile f, const std::string& dtype) {
  check(dtype == "f32" || dtype == "bf16", "model pack", "--dtype must be f32 or bf16; got '", dtype, "'");
  if (dtype == "f32") return f;
  for (auto& [name, t] : f.tensors)
    if (t.ndim() >= 2) t = cast(t, DType::bf16);
  return f;
}

int pack(int argc, char** argv) {
  PackCli c;
  if (!parse_options(pack_options(), argc, argv, c, "model pack")) {
    std::printf("usage: kinema model pack --out DIR --dit FILE --vae FILE [--text-encoder FILE] [options]\n\n"
                "Writes DIR/{tokenizer.model, text_encoder, vae, dit}.safetensors and DIR/model.json, which\n"
                "records each file's SHA-256 and the generation defaults (`kinema generate --model DIR`).\n"
                "A DiT checkpoint trained with its text encoder carries it: then leave out --text-encoder.\n\n");
    print_options(pack_options());
    return 0;
  }
  check(!c.out.empty() && !c.dit.empty() && !c.vae.empty(), "model pack",
        "--out, --dit and --vae are required (`kinema model pack --help`)");
  c.m.sizes = to_sizes(c.sizes, "model pack", "--sizes");
  // A DiT trained with its text encoder (kinema train dit) carries it under "text_encoder.".
  auto [dit, text] = split_text_encoder(load_tensors(c.dit));
  check(text.tensors.empty() != c.text_encoder.empty(), "model pack",
        text.tensors.empty() ? "--text-encoder FILE is required: " + c.dit + " holds no text encoder"
                             : c.dit + " holds the text encoder trained with it; drop --text-encoder");
  if (text.tensors.empty()) text = load_tensors(c.text_encoder);
  dit.metadata.erase("ema_decay");
  text.metadata.erase("ema_decay");
  write_model_bundle(c.out, c.m, read_bytes(c.tokenizer), to_storage(text, c.dtype), load_tensors(c.vae),
                     to_storage(dit, c.dtype));
  Pipeline p = Pipeline::load(c.out);  // proves the bundle loads and its parts fit together
  std::printf("%s: %s, DiT %s\n", c.out.c_str(), p.manifest().name.c_str(), p.model_digest().substr(0, 16).c_str());
  return 0;
}

// A compact copy of a weights file (e.g. a training run's EMA committed as a milestone):
// matrices in bf16, vectors f32, metadata kept. `--init` of the trainers reads it back.
int cast_weights(int argc, char** argv) {
  check(argc == 5 && std::string(argv[3]) == "--dtype", "model cast",
        "usage: kinema model cast IN.safetensors OUT.safetensors --dtype bf16|f32");
  TensorFile f = load_tensors(argv[1]);
  f.metadata.erase("ema_decay");
  save_tensors(argv[2], to_storage(f, argv[4]));
  std::printf("%s: %zu tensors, matrices as %s\n", argv[2], f.tensors.size(), argv[4]);
  return 0;
}

struct TextUseCli {
  TextUseOptions o;
  int64_t training_index = kUnset;  // any value given goes to the library, which checks it
  static constexpr int64_t kUnset = std::numeric_limits<int64_t>::min();
};

const std::vector<Option<TextUseCli>>& text_use_options() {
  static const std::vector<Option<TextUseCli>> table = {
      {"--clips", "N", "fresh world clips to measure on (each is also given another's caption)", KINEMA_OPT_INT(o.clips)},
      {"--seed", "N", "seed of the first clip (far from the training data's)", KINEMA_OPT_INT(o.seed)},
      {"--training-set", "I",
       "measure on the world training set's clips I, I+1, ... instead (as `train dit --data world` draws "
       "them); against fresh clips (e.g. I = --clips of training) the gap is memorisation",
       KINEMA_OPT_INT(training_index)},
  };
  return table;
}

int text_use(int argc, char** argv) {
  TextUseCli c;
  SplitArguments split = split_arguments(text_use_options(), argc, argv, 1);  // the model directory
  const bool help = !parse_options(text_use_options(), int(split.options.size()), split.options.data(), c,
                                   "model text-use");
  if (help || split.positionals.empty()) {
    std::printf("usage: kinema model text-use DIR [options]\n\n"
                "The DiT's flow loss on fresh world clips with each clip's own caption, another clip's and\n"
                "the empty one, at t = 0.3, 0.6, 0.9, 0.97: does the model read its caption? own/other\n"
                "near 1 means the caption is ignored. 'shapes' is the own caption with every shape named as\n"
                "another, 'places' the caption of the scene turned half a turn (every object named in the\n"
                "opposite part of the frame); the object columns measure only where the objects are, so\n"
                "own/shapes or own/places there near 1 means the DiT does not read those words.\n\n");
    print_options(text_use_options());
    return help ? 0 : 2;
  }
  const std::string dir = split.positionals[0];
  const Pipeline p = Pipeline::load(dir);
  if (c.training_index != TextUseCli::kUnset) c.o.training_index = c.training_index;
  std::printf("%s: flow loss with each clip's own caption, another clip's, and the empty caption (%d %s)\n",
              dir.c_str(), c.o.clips,
              c.o.training_index ? ("training-set clips from index " + std::to_string(c.training_index)).c_str()
                                 : "fresh clips");
  std::printf("     t     own   other   empty   own/other | objects: own  shapes  places  own/shapes  own/places\n");
  const std::vector<TextUseRow> rows = measure_text_use(p, c.o);
  for (const TextUseRow& r : rows)
    std::printf("  %.2f  %.4f  %.4f  %.4f   %.3f     |          %.4f  %.4f  %.4f   %.3f       %.3f\n", r.t, r.own,
                r.other, r.empty, r.own / r.other, r.object_own, r.object_swapped, r.object_mirrored,
                r.object_own / r.object_swapped, r.object_own / r.object_mirrored);
  // Per latent frame: where the loss is, and how far guidance pushes (|v_own - v_empty|^2).
  std::printf("\nper latent frame (0 = the first video frame, then 4 each): own-caption loss / guidance |v_own - v_empty|^2\n");
  for (const TextUseRow& r : rows) {
    std::printf("  %.2f ", r.t);
    for (size_t f = 0; f < r.own_by_frame.size(); ++f) std::printf("  %.4f/%.4f", r.own_by_frame[f], r.guidance_by_frame[f]);
    std::printf("\n");
  }
  return 0;
}

// Which caption words the DiT cannot tell apart: the text encoder's vectors per group.
int words(int argc, char** argv) {
  if (argc != 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("usage: kinema model words DIR\n\n"
                "The text encoder's output for each shape, colour, count and size word of the world, put in\n"
                "the same caption: the closest pair of different meanings per group and every pair above\n"
                "cosine %.2f. The DiT reads a caption only through these vectors, so words that coincide\n"
                "are one word to it (joint training can collapse words the DiT does not yet use).\n"
                "Then whether the DiT acts on them: how much its velocity changes when one word replaces\n"
                "another (one image-sized noise input at the first trained size, t = 0.95, 0.8, 0.6; mean\n"
                "over pairs of different meanings, and the pair it treats most alike). Near 0: the DiT\n"
                "draws the same thing whichever word it is given.\n",
                kCollapsedCosine);
    return argc == 2 ? 0 : 2;
  }
  const Pipeline p = Pipeline::load(argv[1]);
  const auto [width, height] = p.manifest().sizes.at(0);
  const int64_t sc = p.vae().config().spatial_compression();
  const Shape latent{1, p.dit().config().out_dim, 1, height / sc, width / sc};
  size_t collapsed = 0;
  for (const WordGroup& g : world_word_groups()) {
    const WordSeparation s = measure_word_separation(p.tokenizer(), p.text_encoder(), g);
    std::printf("%-7s %2zu words: closest different meanings %s / %s, cosine %.3f\n", g.name.c_str(), g.words.size(),
                s.closest_a.c_str(), s.closest_b.c_str(), s.max_cosine);
    for (const auto& [i, j] : s.collapsed)
      std::printf("        one word to the DiT: %s / %s (cosine %.3f)\n", g.words[i].c_str(), g.words[j].c_str(),
                  s.cosine[i * g.words.size() + j]);
    collapsed += s.collapsed.size();
    std::string mean, least;
    for (float t : {0.95f, 0.8f, 0.6f}) {
      const WordInfluence w = measure_word_influence(p.dit(), p.tokenizer(), p.text_encoder(), g, t, latent);
      char b[96];
      std::snprintf(b, sizeof b, "%s%.1f%%", mean.empty() ? "" : " / ", 100 * w.mean_change);
      mean += b;
      std::snprintf(b, sizeof b, "%s%s/%s %.1f%%", least.empty() ? "" : ", ", w.least_a.c_str(), w.least_b.c_str(),
                    100 * w.least_change);
      least += b;
    }
    std::printf("        the DiT's velocity changes with the word by %s (t 0.95 / 0.8 / 0.6); least: %s\n", mean.c_str(),
                least.c_str());
  }
  std::printf("%zu pairs of different meanings above cosine %.2f\n", collapsed, kCollapsedCosine);
  return 0;
}

int check_model(int argc, char** argv) {
  check(argc == 2, "model check", "usage: kinema model check DIR");
  Pipeline p = Pipeline::load(argv[1]);
  std::printf("%s: %s — every file matches its SHA-256\n%s", argv[1], p.manifest().name.c_str(),
              manifest_json(p.manifest()).c_str());
  return 0;
}

}  // namespace

int cmd_model(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  const bool help = argc > 2 && (!std::strcmp(argv[2], "--help") || !std::strcmp(argv[2], "-h"));
  if (what == "pack") return pack(argc - 1, argv + 1);
  if (what == "check" && !help) return check_model(argc - 1, argv + 1);
  if (what == "cast" && !help) return cast_weights(argc - 1, argv + 1);
  if (what == "text-use") return text_use(argc - 1, argv + 1);
  if (what == "words") return words(argc - 1, argv + 1);
  std::printf("usage: kinema model pack|check|cast|text-use|words ...\n"
              "  pack   assemble a model directory from trained weights (`kinema model pack --help`)\n"
              "  check  load a model directory and verify every file's SHA-256\n"
              "  cast   IN OUT --dtype bf16: a compact copy of a weights file (matrices bf16)\n"
              "  text-use DIR [--clips N]: does the model read its caption? (flow loss with own/other/empty caption)\n"
              "  words  DIR: can it tell the caption's words apart? (the text encoder's vector per shape, colour, count, size)\n");
  return what.empty() || what == "--help" || what == "-h" || help ? 0 : 2;
}

}  // namespace kinema::cli
