// Helpers for the media and C2PA tests: temp folders, test patterns, PSNR, ffprobe.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kinema/media.hpp"

namespace kinema::test {

// A fresh folder under the system temp dir, removed with its contents on destruction.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// A moving pattern: smooth gradients plus a square that travels with t (frame index).
Frame test_pattern(int width, int height, int t);
double psnr(const Frame& a, const Frame& b);

// Runs a shell command, returns stdout; exit status in *status when given.
std::string run_command(const std::string& cmd, int* status = nullptr);

// ffprobe of the first video stream: codec_name, width, height, r_frame_rate, nb_read_frames,
// plus format.format_name under "format".
nlohmann::json ffprobe(const std::string& path);

std::vector<uint8_t> read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace kinema::test
