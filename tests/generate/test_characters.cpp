// The character store and @NAME resolution: what a clip stores, names, errors that list the
// known characters, descriptions in place of @NAME and references at the clip's size.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <unistd.h>

#include "error_of.hpp"
#include "temp_dir.hpp"
#include "kinema/characters.hpp"
#include "kinema/error.hpp"
#include "kinema/world.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {
using test::error_of;

fs::path dir() {
  fs::path d = test::process_temp_dir("kinema_characters");
  return d;
}

// A red circle (or any colour and shape) the world renders, as an mp4 of `frames` frames.
std::string subject_clip(const std::string& name, world::Color c, world::Shape sh, int w, int h, int frames) {
  world::Scene s;
  s.width = w, s.height = h, s.frames = frames;
  s.background = world::Background::plain, s.bg_top = s.bg_bottom = 1;
  world::Object o;
  o.shape = sh, o.color = c, o.size = world::Size::large, o.x = 0.5 * w / h, o.y = 0.5;
  s.objects = {o};
  const std::string path = (dir() / name).string();
  VideoWriterOptions vo;
  vo.width = w, vo.height = h, vo.fps = 12;
  VideoWriter vw(path, vo);
  for (world::Image& im : world::render(s)) vw.write(Frame{im.width, im.height, std::move(im.rgb)});
  vw.close();
  return path;
}

TEST(Characters, CreateDescribesAndStoresTheReference) {
  const CharacterStore store((dir() / "store1").string());
  const std::string clip = subject_clip("bob.mp4", world::Color::red, world::Shape::circle, 64, 64, 12);
  const Character bob = store.create("Bob", clip);
  EXPECT_EQ(bob.description, "red circle");
  EXPECT_EQ(bob.frames.size(), 5u);
  EXPECT_EQ(store.names(), (std::vector<std::string>{"Bob"}));
  const Character again = store.load("Bob");
  EXPECT_EQ(again.frames.size(), 5u);
  EXPECT_EQ(again.frames[0].width, 64);
  EXPECT_EQ(again.description, "red circle");
  // A short clip gives the 1 + 4k frames it has; a size not a multiple of 16 is cropped to one.
  const std::string odd = subject_clip("odd.mp4", world::Color::green, world::Shape::square, 100, 60, 3);
  CharacterOptions o;
  o.description = "a green box";
  const Character ann = store.create("Ann-2", odd, o);
  EXPECT_EQ(ann.frames.size(), 1u);
  EXPECT_EQ(ann.frames[0].width, 96);
  EXPECT_EQ(ann.frames[0].height, 64);
  EXPECT_EQ(ann.description, "green box");  // the article is the prompt's business
  EXPECT_EQ(store.names(), (std::vector<std::string>{"Ann-2", "Bob"}));
  EXPECT_NE(error_of([&] { store.create("Bob", clip); }).find("exists"), std::string::npos);
  EXPECT_NE(error_of([&] { store.create("9lives", clip); }).find("not a character name"), std::string::npos);
  EXPECT_NE(error_of([&] { store.create("bad name", clip); }).find("not a character name"), std::string::npos);
  o.frames = 4;
  EXPECT_NE(error_of([&] { store.create("Cy", clip, o); }).find("1 + 4k"), std::string::npos);
  EXPECT_NE(error_of([&] { store.create("Cy", (dir() / "none.mp4").string()); }).find("does not exist"),
            std::string::npos);
  store.remove("Ann-2");
  EXPECT_EQ(store.names(), (std::vector<std::string>{"Bob"}));
  EXPECT_NE(error_of([&] { store.remove("Ann-2"); }).find("known: Bob"), std::string::npos);
}

TEST(Characters, MentionsBecomeDescriptionsAndReferences) {
  const CharacterStore store((dir() / "store2").string());
  store.create("Bob", subject_clip("b.mp4", world::Color::red, world::Shape::circle, 64, 64, 12));
  CharacterOptions one;
  one.frames = 1;
  store.create("Orb", subject_clip("o.mp4", world::Color::orange, world::Shape::star, 64, 64, 12), one);
  EXPECT_EQ(character_mentions("@Bob meets @Orb, and @Bob stays; mail me@home"),
            (std::vector<std::string>{"Bob", "Orb"}));
  CastPrompt c = cast_prompt("@Bob moves right and hits @Orb, then the @Bob stops", store, 32, 32);
  EXPECT_EQ(c.prompt, "a red circle moves right and hits an orange star, then the red circle stops");
  ASSERT_EQ(c.reference.size(), 5u + 4u);  // Bob's 5, Orb's 1 held to a whole latent frame
  EXPECT_EQ(c.reference[0].width, 32);
  EXPECT_EQ(c.reference[8].rgb, c.reference[5].rgb);
  EXPECT_TRUE(cast_prompt("a plain ball", store, 32, 32).reference.empty());
  EXPECT_NE(error_of([&] { cast_prompt("@Zed spins", store, 32, 32); }).find("unknown character @Zed"),
            std::string::npos);
  EXPECT_NE(error_of([&] { cast_prompt("@Zed spins", store, 32, 32); }).find("known: Bob, Orb"), std::string::npos);
  EXPECT_NE(error_of([&] { cast_prompt("look @ this", store, 32, 32); }).find("names no character"),
            std::string::npos);
  const CharacterStore empty((dir() / "none").string());
  EXPECT_NE(error_of([&] { cast_prompt("@Bob", empty, 32, 32); }).find("kinema character create"), std::string::npos);
}

}  // namespace
}  // namespace kinema
