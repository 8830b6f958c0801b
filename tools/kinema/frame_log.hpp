// The frames a long render has made, appended raw (RGB24, fixed size) to a file beside its
// sampler checkpoint, so a server killed mid-render can emit them again instead of sampling
// them (kinema serve, generate_long's resume). A frame cut short by the kill is dropped on read.
#pragma once
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "kinema/media.hpp"

namespace kinema::cli {

class FrameLog {
 public:
  FrameLog() = default;  // logs nothing
  FrameLog(std::string path, int width, int height);
  // The whole frames in the file (none when it is missing), and positions the log after them.
  std::vector<Frame> read();
  void append(const Frame& f);  // Error when the disk refuses it
  void sync();                  // flushed and on disk

 private:
  std::string path_;
  int width_ = 0, height_ = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_{nullptr, &std::fclose};
};

}  // namespace kinema::cli
