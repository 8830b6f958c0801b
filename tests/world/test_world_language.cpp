// Captions, short prompts and prompt expansion (grammar, synonyms, numbers, relations, event
// order, word-vector mapping, reporting what was not understood).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "kinema/world.hpp"
#include "world/lexicon.hpp"
#include "world/scene_facts.hpp"
#include "world/wordmap.hpp"

using namespace kinema::world;

namespace {
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
int count_of(const Scene& s, Color c, Shape sh) {
  int n = 0;
  for (const Object& o : s.objects) n += o.color == c && o.shape == sh;
  return n;
}
}  // namespace

TEST(WorldCaption, NamesEveryObjectColourBackgroundAndCamera) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const Scene s = sample_scene(seed);
    const std::string c = detailed_caption(s, seed);
    for (const Object& o : s.objects) {
      const std::string color = color_name(o.color);
      EXPECT_TRUE(has(c, color) || (color == "gray" && has(c, "grey")) || (color == "purple" && has(c, "violet")))
          << c;
    }
    EXPECT_TRUE(has(c, "background") || has(c, "sky")) << c;
    EXPECT_TRUE(has(c, "camera") || s.frames == 1) << c;
    EXPECT_GT(c.size(), 120u);
  }
}

TEST(WorldCaption, PhrasingVariesWithTheSeed) {
  const Scene s = sample_scene(11);
  std::set<std::string> captions;
  for (uint64_t seed = 0; seed < 10; ++seed) captions.insert(detailed_caption(s, seed));
  EXPECT_GE(captions.size(), 4u);
}

TEST(WorldExpand, ShortPromptsRoundTripTheirObjects) {
  int checked = 0;
  for (uint64_t seed = 0; seed < 150; ++seed) {
    const Scene s = sample_scene(seed);
    const std::string p = short_prompt(s, seed);
    const Expansion e = expand(p, seed);
    EXPECT_TRUE(e.understood) << p;
    EXPECT_TRUE(e.not_understood.empty()) << p << " -> " << (e.not_understood.empty() ? "" : e.not_understood[0]);
    for (const Object& o : s.objects) {
      EXPECT_GE(count_of(e.scene, o.color, o.shape), 1) << p;
      ++checked;
    }
  }
  EXPECT_GT(checked, 150);
}

TEST(WorldExpand, IssueExampleGivesFallThenMoveLeft) {
  const Expansion e = expand("a green star falls and bounces twice, then a blue ring rolls left", 4);
  ASSERT_EQ(e.scene.objects.size(), 2u);
  const Object &a = e.scene.objects[0], &b = e.scene.objects[1];
  EXPECT_EQ(a.color, Color::green);
  EXPECT_EQ(a.shape, Shape::star);
  EXPECT_EQ(a.behavior, Behavior::fall);
  EXPECT_EQ(b.color, Color::blue);
  EXPECT_EQ(b.shape, Shape::ring);
  EXPECT_EQ(b.behavior, Behavior::move);
  EXPECT_EQ(b.dir, Dir::left);
  EXPECT_GT(b.start, a.start);
  EXPECT_TRUE(has(e.caption, "green") && has(e.caption, "blue"));
}

TEST(WorldExpand, NumbersAsWordsOrDigitsAndSynonyms) {
  const Expansion a = expand("three crimson balls", 1), b = expand("3 red circles", 1);
  EXPECT_EQ(count_of(a.scene, Color::red, Shape::circle), 3);
  EXPECT_EQ(count_of(b.scene, Color::red, Shape::circle), 3);
  const Expansion c = expand("a grey cube and a turquoise donut", 2);
  EXPECT_EQ(count_of(c.scene, Color::gray, Shape::square), 1);
  EXPECT_EQ(count_of(c.scene, Color::cyan, Shape::ring), 1);
}

TEST(WorldExpand, RelationsAreSatisfied) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Expansion e = expand("a red square to the left of a blue circle, a green star above a yellow heart", seed);
    ASSERT_EQ(e.scene.objects.size(), 4u);
    EXPECT_LT(e.scene.objects[0].x, e.scene.objects[1].x) << seed;
    EXPECT_LT(e.scene.objects[2].y, e.scene.objects[3].y) << seed;
  }
}

TEST(WorldExpand, CauseEffectOcclusionAndCamera) {
  const Expansion hit = expand("a red ball hits the white box and it turns green", 3);
  ASSERT_EQ(hit.scene.objects.size(), 2u);
  EXPECT_EQ(hit.scene.objects[0].effect, Effect::recolor);
  EXPECT_EQ(hit.scene.objects[0].effect_color, Color::green);
  EXPECT_EQ(hit.scene.objects[0].target, 1);
  const Expansion bite = expand("a pink heart bites the yellow square", 3);
  EXPECT_EQ(bite.scene.objects[0].effect, Effect::bite);
  const Expansion behind = expand("a small red circle passes behind a big blue square", 3);
  EXPECT_GT(behind.scene.objects[1].layer, behind.scene.objects[0].layer);
  EXPECT_TRUE(has(behind.caption, "behind"));
  const Expansion cam = expand("a cyan star spins while the camera zooms in", 3);
  EXPECT_EQ(cam.scene.camera.motion, CameraMotion::zoom_in);
  EXPECT_EQ(cam.scene.objects[0].behavior, Behavior::rotate);
  const Expansion later = expand("a red circle above a green star, then the red circle moves right", 3);
  ASSERT_EQ(later.scene.objects.size(), 2u);  // "the red circle" refers back
  EXPECT_GT(later.scene.objects[0].start, 0);
}

TEST(WorldExpand, UnknownWordsAreMappedByWordVectorsAndReported) {
  ASSERT_GT(nearest_table_size(), 1000u) << "data/world/nearest.tsv missing";
  const auto n = nearest_word("sphere");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->word, "circle");
  const Expansion e = expand("a golden sphere spinning", 1);  // golden is a listed synonym
  const Expansion v = expand("a red hexagon plummeting", 1);
  ASSERT_FALSE(lex("gigantic") && lex("gigantic")->kind != Tok::size);
  const Expansion m = expand("a colossal red square", 1);  // colossal -> huge, through the vectors
  bool mapped = false;
  for (const std::string& s : m.mapped) mapped = mapped || has(s, "colossal");
  EXPECT_TRUE(mapped);
  EXPECT_EQ(m.scene.objects.at(0).size, Size::large);
  (void)e; (void)v;
}

TEST(WorldExpand, SaysWhatItDidNotUnderstand) {
  const Expansion e = expand("a red circle and a xyzzy", 0);
  ASSERT_FALSE(e.not_understood.empty());
  EXPECT_EQ(e.not_understood[0], "xyzzy");
  EXPECT_TRUE(e.understood);
  const Expansion none = expand("hello there", 0);
  EXPECT_FALSE(none.understood);
}

TEST(WorldExpand, DeterministicFromPromptAndSeed) {
  const std::string p = "two small yellow triangles and a purple ring bouncing around";
  EXPECT_EQ(to_json(expand(p, 9).scene), to_json(expand(p, 9).scene));
  EXPECT_NE(to_json(expand(p, 9).scene), to_json(expand(p, 10).scene));
  EXPECT_GT(lexicon_size(), 250);
}

TEST(WorldExpand, DiagonalsAndOneBehaviourPerObject) {
  const Expansion e = expand("a red circle moves up and to the left, then it disappears", 0);
  ASSERT_EQ(e.scene.objects.size(), 1u);
  EXPECT_EQ(e.scene.objects[0].behavior, Behavior::move);
  EXPECT_EQ(e.scene.objects[0].dir, Dir::up_left);
  ASSERT_EQ(e.not_understood.size(), 1u);  // the second behaviour is reported, not silently dropped
  EXPECT_NE(e.not_understood[0].find("disappears"), std::string::npos);
  const Expansion bg = expand("a red star on a blue background", 0);
  EXPECT_EQ(bg.scene.background, Background::plain);
  EXPECT_STREQ(background_palette()[bg.scene.bg_top].name, "pale blue");
}

TEST(WorldExpand, PlacesPutTheObjectInThatPartOfTheFrameAndDirectionsStayMotions) {
  const std::pair<const char*, const char*> cases[] = {
      {"a big yellow circle in the center at night", "center"},
      {"a blue square in the middle", "center"},
      {"a green star in the top left corner", "top left"},
      {"a red heart on the right", "right side"},
      {"at the bottom, a small purple ring", "bottom middle"},
      {"a white cross at the top middle of the frame", "top middle"},
      {"an orange triangle in the lower right", "bottom right"},
  };
  for (const auto& [prompt, place] : cases)
    for (uint64_t seed = 0; seed < 8; ++seed) {
      const Expansion e = expand(prompt, seed);
      ASSERT_EQ(e.scene.objects.size(), 1u) << prompt;
      EXPECT_TRUE(e.mapped.empty()) << prompt << ": " << e.mapped[0];
      EXPECT_NE(e.scene.objects[0].behavior, Behavior::move) << prompt;  // a place is not a motion
      const SceneFacts f = scene_facts(e.scene);
      const std::string want = place;
      if (want == "right side" || want == "bottom middle")  // one axis named: the other is free
        EXPECT_TRUE(has(f.place[0], want.substr(0, want.find(' ')))) << prompt << " -> " << f.place[0];
      else
        EXPECT_EQ(f.place[0], want) << prompt << " seed " << seed;
    }
  // Both axes named: position becomes the prompt's claim; one axis or none: not.
  auto unspecified = [](const Expansion& e, const char* what) {
    return std::find(e.unspecified.begin(), e.unspecified.end(), what) != e.unspecified.end();
  };
  EXPECT_FALSE(unspecified(expand("a red circle in the center", 1), "position"));
  EXPECT_TRUE(unspecified(expand("a red circle on the left", 1), "position"));
  // Directions are still motions, and "left of" still a relation.
  const Expansion moves = expand("a blue ball moves to the left", 2);
  EXPECT_EQ(moves.scene.objects[0].behavior, Behavior::move);
  EXPECT_EQ(moves.scene.objects[0].dir, Dir::left);
  const Expansion up = expand("a red circle on the left moves up", 2);
  EXPECT_EQ(up.scene.objects[0].dir, Dir::up);
  EXPECT_TRUE(has(scene_facts(up.scene).place[0], "left"));
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const Expansion rel = expand("a red square to the left of a blue circle", seed);
    ASSERT_EQ(rel.scene.objects.size(), 2u);
    EXPECT_LT(rel.scene.objects[0].x, rel.scene.objects[1].x);
  }
}
