// `kinema detect FILE...`: was this file made by kinema? First from its C2PA content
// credentials (valid, claim generator kinema), else from kinema's invisible watermark, which
// survives stripping the metadata, re-encoding, rescaling, cropping and GIF conversion.
// Exit status: 0 every file made by kinema, 4 some not detected, 1 a file could not be read,
// 2 usage.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/media.hpp"
#include "kinema/watermark.hpp"
#include "option_table.hpp"

namespace kinema::cli {
namespace {

constexpr int kExitNotDetected = 4;
// What the detector reads: at most this many seconds, frames no larger than this on their
// longer side (the mark lives on a 16x16 grid, so nothing is lost) and at most this many frames
// (resampled in time beyond it); this bounds memory for any input.
constexpr double kReadSeconds = 20;
constexpr int kMaxSide = 512, kMaxFrames = 240;

struct DetectCli {
  std::string key;
  std::string config_dir;
  bool quiet = false;
  bool watermark_only = false;
};

const std::vector<Option<DetectCli>>& options() {
  static const std::vector<Option<DetectCli>> table = {
      {"--key", "TEXT", "operator watermark key (the passphrase given to generation)", KINEMA_OPT_STRING(key)},
      {"--config-dir", "DIR", "where the local kinema CA lives (C2PA trust anchor)", KINEMA_OPT_STRING(config_dir)},
      {"--watermark-only", "", "ignore C2PA credentials, look only for the watermark", KINEMA_OPT_FLAG(watermark_only)},
      {"--quiet", "", "print only one line per file", KINEMA_OPT_FLAG(quiet)},
  };
  return table;
}

void usage() {
  std::printf(
      "usage: kinema detect [options] FILE...\n\n"
      "Says whether each video or image was made by kinema, with a confidence:\n"
      "  1. from its C2PA content credentials (`kinema verify`), when they are valid and name\n"
      "     kinema as the claim generator: confidence 100%%;\n"
      "  2. otherwise from kinema's invisible watermark, which survives stripped metadata,\n"
      "     re-encoding, 0.5x downscaling, ~10%% crops and GIF conversion. The confidence is\n"
      "     1 - p, p bounding the chance that a video kinema did not make scores as high;\n"
      "     'made by kinema' needs p <= %g.\n\n",
      kWatermarkPThreshold);
  print_options(options());
  std::printf(
      "\nexit status: 0 every file made by kinema, 4 some not detected, 1 a file could not be\n"
      "read, 2 usage\n");
}

std::vector<Frame> read_for_detection(const std::string& path) {
  const MediaInfo info = probe_media(path);
  VideoReadOptions ro;
  ro.duration_s = kReadSeconds;
  const int side = std::max(info.width, info.height);
  if (side > kMaxSide) {
    ro.width = std::max(16, int(std::lround(double(info.width) * kMaxSide / side)));
    ro.height = std::max(16, int(std::lround(double(info.height) * kMaxSide / side)));
    ro.resize = ResizeMode::stretch;
  }
  const double seconds = std::min(info.duration_s > 0 ? info.duration_s : kReadSeconds, kReadSeconds);
  if (info.fps > 0 && seconds * info.fps > kMaxFrames) ro.fps = kMaxFrames / seconds;
  ro.max_frames = 4 * kMaxFrames;
  return read_video(path, ro);
}

// 1 - p as a percentage; beyond six nines the digits would only show the bound's slack.
std::string percent(double p_value) {
  if (p_value < 1e-6) return ">99.9999%";
  char b[32];
  std::snprintf(b, sizeof b, "%.4f%%", 100 * (1 - p_value));
  return b;
}

// Returns true when the file is found to be made by kinema.
bool detect_one(const std::string& path, const DetectCli& c) {
  std::string credentials_note;
  if (!c.watermark_only) {
    VerifyOptions vo;
    vo.config_dir = c.config_dir;
    const VerifyReport r = verify_file(path, vo);
    const bool kinema_claim = r.claim_generator.rfind("kinema", 0) == 0;
    if (r.status == CredentialStatus::valid && kinema_claim) {
      std::printf("%s: made by kinema, confidence 100%% (C2PA credentials: %s, signed by %s%s)\n", path.c_str(),
                  r.claim_generator.c_str(), r.signer.c_str(), r.trusted ? ", trusted local kinema CA" : "");
      return true;
    }
    credentials_note = r.status == CredentialStatus::none ? "no credentials"
                       : r.status == CredentialStatus::invalid
                           ? "credentials present but INVALID (altered or badly signed)"
                           : "valid credentials from " + r.claim_generator + ", not kinema";
  }
  WatermarkKey key;
  key.operator_key = watermark_operator_key(c.key);
  const WatermarkResult w = detect_watermark(read_for_detection(path), key);
  if (w.detected)
    std::printf("%s: made by kinema, confidence %s (watermark: score %.2f, p <= %.2g)\n", path.c_str(),
                percent(w.p_value).c_str(), w.score, w.p_value);
  else
    std::printf("%s: not detected as made by kinema (watermark: score %.2f, p %.2g; needs p <= %g)\n", path.c_str(),
                w.score, w.p_value, kWatermarkPThreshold);
  if (!c.quiet) {
    if (!credentials_note.empty()) std::printf("  credentials %s\n", credentials_note.c_str());
    std::printf("  watermark   %d frames, %d geometries searched; best: %.0f%% of each side from (%.3f, %.3f)\n",
                w.frames, w.geometries, 100 * w.scale, w.offset_x, w.offset_y);
  }
  return w.detected;
}

}  // namespace

int cmd_detect(int argc, char** argv) {
  DetectCli c;
  SplitArguments args = split_arguments(options(), argc, argv);
  const std::vector<std::string>& files = args.positionals;
  std::vector<char*>& opts = args.options;
  try {
    if (!parse_options(options(), int(opts.size()), opts.data(), c, "detect")) {
      usage();
      return 0;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "kinema detect: %s\n", e.what());
    return 2;
  }
  if (files.empty()) {
    usage();
    return 2;
  }
  bool all = true;
  for (const auto& f : files) all = detect_one(f, c) && all;
  return all ? 0 : kExitNotDetected;
}

}  // namespace kinema::cli
