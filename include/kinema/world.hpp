// kinema::world: the procedural world. A Scene (JSON-serializable spec) is simulated and
// rendered into exact frames; every clip has an exact detailed caption and a short prompt;
// expand() turns a user's short prompt into a Scene; judge() scores frames against a Scene.
//
// Contracts:
// - Everything is deterministic from (Scene, seed): render(s) twice gives identical bytes.
// - World coordinates: x in [0, aspect], y in [0, 1], y grows downwards; aspect = width/height.
//   Sizes are radii in units of the frame height, so a Scene renders at any resolution.
// - Times are in seconds; a clip has `frames` frames at `fps` (frames == 1 is an image).
// - Errors throw kinema::Error; nothing here exits or aborts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kinema::world {

enum class Shape { circle, square, triangle, star, ring, heart, cross, hexagon };
// Named object colours; kColorCount of them (see color_name / color_rgb).
enum class Color { red, orange, yellow, green, blue, purple, pink, brown, white, black, gray, cyan };
inline constexpr int kShapeCount = 8, kColorCount = 12;

// What an object does once its behaviour starts (before `start` it stays still).
enum class Behavior { still, move, bounce, fall, rotate, grow, shrink, orbit, appear, disappear };
// The eight compass directions of `move`/`bounce`, on screen: right, up-right, up, ...
enum class Dir { right, up_right, up, up_left, left, down_left, down, down_right };
enum class Size { small, medium, large };
enum class Background { plain, gradient, horizon, night, stripes };
enum class CameraMotion { still, pan_left, pan_right, zoom_in, zoom_out };
// A trace left by a hit: the target changes colour (and keeps it), or keeps a bite mark.
enum class Effect { none, recolor, bite };

struct Object {
  Shape shape = Shape::circle;
  Color color = Color::red;
  Size size = Size::medium;
  double x = 0.5, y = 0.5;    // initial centre (world units)
  double angle = 0;           // initial rotation, radians
  Behavior behavior = Behavior::still;
  Dir dir = Dir::right;       // for move/bounce
  double speed = 0.3;         // world units per second (move/bounce), rad/s (rotate, orbit)
  double start = 0;           // seconds: when the behaviour begins (ordered events)
  int target = -1;            // orbit centre, or the object this one hits (cause and effect)
  Effect effect = Effect::none;    // what hitting `target` does to it
  Color effect_color = Color::red; // new colour for Effect::recolor
  int layer = 0;              // drawing order; objects on different layers never collide
};

struct Camera {
  CameraMotion motion = CameraMotion::still;
  double amount = 0.3;        // pan: world units per clip; zoom: relative scale change per clip
  double cut = 0;             // seconds; > 0 cuts to a second framing at that time
  double cut_zoom = 1.6;      // second framing: zoom factor around cut_x, cut_y
  double cut_x = 0.5, cut_y = 0.5;
};

struct Scene {
  int width = 128, height = 128, fps = 12, frames = 24;
  Background background = Background::plain;
  int bg_top = 0, bg_bottom = 1;  // indices into background_palette()
  std::vector<Object> objects;
  Camera camera;
  uint64_t seed = 0;              // texture/jitter seed; the scene is otherwise explicit
};

// RGB24, row-major, no padding. (Same layout as kinema::Frame in media.hpp.)
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

// Vocabulary.
const char* shape_name(Shape s);
const char* color_name(Color c);
const char* behavior_name(Behavior b);
const char* dir_name(Dir d);
const char* size_name(Size s);
const char* background_name(Background b);
const char* camera_name(CameraMotion m);
const char* effect_name(Effect e);
// The words detailed captions use: each shape's and size's names (synonyms included), numbers.
const std::vector<std::vector<std::string>>& shape_words();  // indexed by Shape
const std::vector<std::vector<std::string>>& size_words();   // indexed by Size
const std::vector<std::string>& number_words();              // "zero" .. "six"
void color_rgb(Color c, uint8_t rgb[3]);
struct BgColor { const char* name; uint8_t rgb[3]; };
const std::vector<BgColor>& background_palette();
double size_radius(Size s);  // radius in frame heights

// JSON round trip (throws on malformed or out-of-range input; error names the field).
std::string to_json(const Scene& s);
Scene scene_from_json(const std::string& json);
void validate(const Scene& s);

// Per-frame ground truth of the simulation, in world units.
struct ObjectState {
  double x = 0, y = 0, angle = 0, radius = 0;
  Color color = Color::red;
  bool visible = true, bitten = false;
  double bite_angle = 0;      // direction (radians) of the bite, from the centre
};
struct CameraState { double cx = 0.5, cy = 0.5, zoom = 1; int shot = 0; };
struct FrameState { std::vector<ObjectState> objects; CameraState camera; };
std::vector<FrameState> simulate(const Scene& s);

// Renders every frame (anti-aliased, Cairo). render_frame renders one precomputed state.
std::vector<Image> render(const Scene& s);
void render_frame(const Scene& s, const FrameState& st, Image& out);

// Seeded scene sampling; unspecified (negative) counts are drawn from [1, 4].
struct SampleOptions {
  int width = 128, height = 128, fps = 12, frames = 24;
  // One large object alone (a training focus sample: its shape then decides much of the loss).
  bool single_large = false;
};
Scene sample_scene(uint64_t seed, const SampleOptions& opt = {});

// Captions: the long descriptive caption (phrasing varies with `seed`) and a short prompt.
std::string detailed_caption(const Scene& s, uint64_t seed);
std::string short_prompt(const Scene& s, uint64_t seed);

// Prompt expansion: parse, fill unspecified values (seeded), caption.
struct Expansion {
  Scene scene;
  std::string caption;
  std::vector<std::string> mapped;      // "crimson → red" for words found via word vectors
  std::vector<std::string> not_understood;  // words/phrases the grammar could not use
  bool understood = true;                  // false when nothing in the prompt named an object
  std::vector<std::string> unspecified;    // claim kinds the prompt left to sampling (size, ...)
};
Expansion expand(const std::string& prompt, uint64_t seed, const SampleOptions& opt = {});

// The judge: one score per claim of the scene, in [0, 1]; a claim passes at >= 0.5.
struct Claim { std::string kind, text; double score = 0; bool pass = false; };
// What a claim asserts, to match the same claim across two judgements of a scene: its kind and
// text without a trailing measured value in parentheses ("nothing else is drawn (unexplained
// foreground 3% of the allowance)" asserts what "... (0% ...)" does).
std::string claim_key(const Claim& c);
struct Scorecard {
  std::vector<Claim> claims;
  double overall() const;       // fraction of claims that pass
  std::string summary() const;  // one line
  std::string json() const;
};
Scorecard judge(const std::vector<Image>& frames, const Scene& expected);

// Stopgap video I/O through the ffmpeg CLI until kinema/media.hpp's writer and reader land.
// A path ending in .png writes the first frame as a PNG. width/height <= 0: probe the file.
void write_video_ffmpeg(const std::string& path, const std::vector<Image>& frames, int fps, int crf = 18);
std::vector<Image> read_video_ffmpeg(const std::string& path, int width = 0, int height = 0);
Image downscale(const Image& in, int factor);  // box filter

// Lossless clip file of the data sets: the frames stacked vertically in one PNG.
void write_png_strip(const std::string& path, const std::vector<Image>& frames);
std::vector<Image> read_png_strip(const std::string& path, int frames);

// Data sets. A clip is held out (never in the training split) when it contains a held-out
// colour x shape pair or a held-out behaviour x relation pair; see docs/world.md.
bool is_held_out(const Scene& s);
struct DatasetOptions {
  std::string out;
  int clips = 100;
  uint64_t seed = 1;
  int heldout_prompts = 50;  // size of the held-out prompt set written beside the shards
};
struct DatasetReport { int written = 0, skipped = 0, heldout = 0; double seconds = 0; long frames = 0; };
// Streaming and resumable: clips already listed in DIR/manifest.jsonl are skipped.
DatasetReport write_dataset(const DatasetOptions& opt);

}  // namespace kinema::world
