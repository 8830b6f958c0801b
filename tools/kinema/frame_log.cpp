#include "frame_log.hpp"

#include <unistd.h>

#include <filesystem>

#include "kinema/error.hpp"

namespace kinema::cli {

FrameLog::FrameLog(std::string path, int width, int height) : path_(std::move(path)), width_(width), height_(height) {}

std::vector<Frame> FrameLog::read() {
  std::vector<Frame> frames;
  if (path_.empty()) return frames;
  const size_t bytes = size_t(width_) * size_t(height_) * 3;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path_, ec);
  const size_t whole = ec ? 0 : size_t(size) / bytes;
  if (whole > 0) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(path_.c_str(), "rb"), &std::fclose);
    check(in != nullptr, "serve", "cannot read the frame log ", path_);
    for (size_t i = 0; i < whole; ++i) {
      Frame f{width_, height_, std::vector<uint8_t>(bytes)};
      if (std::fread(f.rgb.data(), 1, bytes, in.get()) != bytes) break;
      frames.push_back(std::move(f));
    }
  }
  // Drop a frame cut short, then append after the whole ones.
  if (!ec) std::filesystem::resize_file(path_, frames.size() * bytes, ec);
  file_.reset(std::fopen(path_.c_str(), "ab"));
  check(file_ != nullptr, "serve", "cannot write the frame log ", path_);
  return frames;
}

void FrameLog::append(const Frame& f) {
  if (!file_) return;
  check(f.width == width_ && f.height == height_, "serve", "frame log: a ", f.width, "x", f.height, " frame in a ",
        width_, "x", height_, " log");
  check(std::fwrite(f.rgb.data(), 1, f.rgb.size(), file_.get()) == f.rgb.size(), "serve",
        "cannot append to the frame log ", path_, " (disk full?)");
}

void FrameLog::sync() {
  if (!file_) return;
  check(std::fflush(file_.get()) == 0 && ::fsync(fileno(file_.get())) == 0, "serve", "cannot flush the frame log ",
        path_);
}

}  // namespace kinema::cli
