// Characters (issue 10): a subject's reference frames kept under a name, so that prompts naming
// it (@NAME) show the same subject in new videos. The reference is placed in front of the clip
// as known frames whose outputs are dropped (GenerateRequest::reference, docs/conditioning.md),
// and @NAME is replaced in the caption by a plain description ("a red circle") in the words the
// default model was trained on. Stored as DIR/NAME/character.json + ref_NNN.png.
#pragma once
#include <string>
#include <vector>

#include "kinema/media.hpp"

namespace kinema {

struct Character {
  std::string name;
  std::string description;    // noun phrase without article ("red circle")
  std::string source;         // the file it was made from
  std::vector<Frame> frames;  // the reference as stored: 1 + 4k frames (or one image)
};

struct CharacterOptions {
  int frames = 5;             // reference frames taken from the clip, 1 + 4k (fewer when it is shorter)
  double fps = 12;            // the clip is read at this rate
  std::string description;    // "": the most prominent coloured shape the world detector finds
};

// $KINEMA_HOME/characters when KINEMA_HOME is set, else ~/.kinema/characters.
std::string default_character_dir();
// Names: a letter, then letters, digits, '_' or '-'; at most 40. Error saying so otherwise.
void check_character_name(const std::string& name);

class CharacterStore {
 public:
  explicit CharacterStore(std::string dir);
  const std::string& dir() const { return dir_; }
  // Reads the clip (or image) at its own size rounded to a multiple of 16 (centre crop), keeps its
  // first 1 + 4k frames and stores them. A taken name, a bad name or an unreadable file is an Error.
  Character create(const std::string& name, const std::string& clip, const CharacterOptions& options = {}) const;
  // An unknown name is an Error listing the known ones.
  Character load(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  void remove(const std::string& name) const;
  // The reference at width x height, resized and centre-cropped as read_video does.
  std::vector<Frame> reference(const std::string& name, int width, int height) const;

 private:
  std::string dir_;
};

// "red circle": the coloured shape covering the most area over the frames; "" when none is found.
std::string describe_subject(const std::vector<Frame>& frames);

// The names a prompt mentions as @NAME, in order, each once.
std::vector<std::string> character_mentions(const std::string& prompt);

// A prompt with its characters resolved: @NAME replaced by "a red circle" (first mention) or
// "the red circle", and the characters' references one after another (1 + 4a frames: every
// character after the first is held on its last frame to whole latent frames) at width x height.
struct CastPrompt {
  std::string prompt;
  std::vector<std::string> names;
  std::vector<Frame> reference;  // empty when the prompt names no character
};
CastPrompt cast_prompt(const std::string& prompt, const CharacterStore& store, int width, int height);

}  // namespace kinema
