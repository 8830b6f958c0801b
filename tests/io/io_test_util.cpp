#include "io_test_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

namespace kinema::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("kinema_io_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  fs::create_directories(p);
  path = p.string();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

Frame test_pattern(int width, int height, int t) {
  // Smooth content like a generated video: gradients, a drifting wave and a bright disc with a
  // soft (3-pixel) rim moving with t. Hard saturated edges would instead measure 4:2:0 chroma
  // subsampling (about 33 dB), not the codec.
  Frame f;
  f.width = width, f.height = height;
  f.rgb.resize(size_t(width) * height * 3);
  double r = std::max(4, width / 8), cx = r + std::fmod(t * 3.0, std::max(1.0, width - 2 * r)),
         cy = r + std::fmod(t * 2.0, std::max(1.0, height - 2 * r));
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &f.rgb[(size_t(y) * width + x) * 3];
      double d = std::hypot(x - cx, y - cy);
      double a = std::clamp((r - d) / 3.0, 0.0, 1.0);  // disc coverage
      double base[3] = {255.0 * x / std::max(1, width - 1), 255.0 * y / std::max(1, height - 1),
                        128 + 100 * std::sin((x + y + 4 * t) * 0.05)};
      double disc[3] = {235, 225, 120};
      for (int c = 0; c < 3; ++c) p[c] = uint8_t(std::lround(base[c] * (1 - a) + disc[c] * a));
    }
  return f;
}

double psnr(const Frame& a, const Frame& b) {
  if (a.rgb.size() != b.rgb.size() || a.rgb.empty()) return 0;
  double se = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) {
    double d = double(a.rgb[i]) - double(b.rgb[i]);
    se += d * d;
  }
  double mse = se / double(a.rgb.size());
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

std::string run_command(const std::string& cmd, int* status) {
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = ::pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

nlohmann::json ffprobe(const std::string& path) {
  std::string out = run_command(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=codec_name,width,height,r_frame_rate,avg_frame_rate,nb_read_frames,pix_fmt:format="
      "format_name -of json '" + path + "'");
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("streams") || j["streams"].empty())
    return nlohmann::json::object();
  nlohmann::json s = j["streams"][0];
  s["format"] = j["format"]["format_name"];
  return s;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

}  // namespace kinema::test
