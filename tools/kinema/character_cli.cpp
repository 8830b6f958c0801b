// @NAME in the generating commands (storyboard_cli.hpp).
#include <cstdio>

#include "kinema/characters.hpp"
#include "storyboard_cli.hpp"

namespace kinema::cli {

void resolve_characters(const Pipeline& pipe, GenerateRequest& req, bool quiet) {
  if (character_mentions(req.prompt).empty()) return;
  if (req.width <= 0 || req.height <= 0) {  // the size the clip will have
    GenerateRequest one = req;
    one.frames = 1, one.known.clear(), one.reference.clear(), one.edit.clear();
    one = pipe.resolve(one);
    req.width = one.width, req.height = one.height;
  }
  const CastPrompt cast = cast_prompt(req.prompt, CharacterStore(default_character_dir()), req.width, req.height);
  if (!quiet)
    std::fprintf(stderr, "characters: %s (%zu reference frames in front)\n", cast.prompt.c_str(), cast.reference.size());
  req.prompt = cast.prompt;
  req.reference = cast.reference;
}

}  // namespace kinema::cli
