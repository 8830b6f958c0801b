// `kinema character create clip.mp4 --name NAME | list | delete NAME`: the subjects prompts can
// name as @NAME (kinema/characters.hpp, docs/modes.md).
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "kinema/characters.hpp"
#include "kinema/error.hpp"
#include "option_table.hpp"

namespace kinema::cli {
namespace {

struct CharacterCli {
  std::string name, dir, describe;
  int frames = 5;
  double fps = 12;
};

const std::vector<Option<CharacterCli>>& options() {
  static const std::vector<Option<CharacterCli>> table = {
      {"--name", "NAME", "create: the name prompts use as @NAME (a letter, then letters, digits, _ or -)", KINEMA_OPT_STRING(name)},
      {"--dir", "DIR", "the character store (default: $KINEMA_HOME/characters, else ~/.kinema/characters)", KINEMA_OPT_STRING(dir)},
      {"--frames", "N", "create: reference frames kept from the clip, 1 + 4k (1 = its first frame)", KINEMA_OPT_INT(frames)},
      {"--fps", "N", "create: the rate the clip is read at (the model's; kinema's default model: 12)", KINEMA_OPT_FLOAT(fps)},
      {"--describe", "TEXT", "create: what @NAME becomes in captions, e.g. \"red ball\" (default: the coloured shape the world detector sees)", KINEMA_OPT_STRING(describe)},
  };
  return table;
}

void print_help() {
  std::printf(
      "usage: kinema character create clip.mp4 --name NAME [--dir DIR] [--frames 5] [--describe TEXT]\n"
      "       kinema character list [--dir DIR]\n"
      "       kinema character delete NAME [--dir DIR]\n\n"
      "A character is a subject's reference: the first 1 + 4k frames of a clip (or one image), kept\n"
      "at the clip's size rounded to 16. Prompts of generate, extend, loop, join and storyboards that\n"
      "name @NAME get the reference in front of the clip as known frames (their outputs are dropped),\n"
      "and @NAME becomes a plain description (\"a red circle\") in the caption. Set KINEMA_HOME to\n"
      "use another store for every command.\n\n");
  print_options(options());
}

}  // namespace

int cmd_character(int argc, char** argv) {
  CharacterCli c;
  SplitArguments args = split_arguments(options(), argc, argv);
  if (!parse_options(options(), int(args.options.size()), args.options.data(), c, "character")) return print_help(), 0;
  const std::vector<std::string>& pos = args.positionals;
  check(!pos.empty(), "character", "give an action: create, list or delete (`kinema character --help`)");
  const CharacterStore store(c.dir.empty() ? default_character_dir() : c.dir);
  const std::string& action = pos[0];
  if (action == "create") {
    check(pos.size() == 2, "character", "give one clip or image: kinema character create clip.mp4 --name NAME");
    check(!c.name.empty(), "character", "give the character a name: --name NAME");
    const Character ch = store.create(c.name, pos[1], CharacterOptions{c.frames, c.fps, c.describe});
    std::printf("@%s: %s (%zu frame%s, %dx%d) in %s\n", ch.name.c_str(), ch.description.c_str(), ch.frames.size(),
                ch.frames.size() == 1 ? "" : "s", ch.frames[0].width, ch.frames[0].height, store.dir().c_str());
    return 0;
  }
  if (action == "list") {
    check(pos.size() == 1, "character", "list takes no file; got '", pos.size() > 1 ? pos[1] : "", "'");
    for (const std::string& n : store.names()) {
      const Character ch = store.load(n);
      std::printf("@%-20s %-24s %zu frame%s %dx%d  from %s\n", n.c_str(), ch.description.c_str(), ch.frames.size(),
                  ch.frames.size() == 1 ? " " : "s", ch.frames[0].width, ch.frames[0].height, ch.source.c_str());
    }
    return 0;
  }
  if (action == "delete") {
    check(pos.size() == 2, "character", "name the character to delete: kinema character delete NAME");
    store.remove(pos[1][0] == '@' ? pos[1].substr(1) : pos[1]);
    std::printf("deleted @%s\n", (pos[1][0] == '@' ? pos[1].substr(1) : pos[1]).c_str());
    return 0;
  }
  fail("character", "unknown action '", action, "'; use create, list or delete");
}

}  // namespace kinema::cli
