// Stopgap video I/O through the ffmpeg command-line tool (raw RGB24 over a pipe), used until
// the media writer/reader of include/kinema/media.hpp lands. Also writes PNGs (one frame).
#include <cstdio>

#include "kinema/error.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

void write_video_ffmpeg(const std::string& path, const std::vector<Image>& frames, int fps, int crf) {
  check(!frames.empty(), "world.write_video", "no frames to write to ", path);
  const int W = frames[0].width, H = frames[0].height;
  const bool png = path.size() > 4 && path.substr(path.size() - 4) == ".png";
  std::string cmd = "ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s " + std::to_string(W) + "x" +
                    std::to_string(H) + " -r " + std::to_string(fps) + " -i - ";
  if (png) cmd += "-frames:v 1 ";
  else cmd += "-c:v libx264 -preset veryfast -crf " + std::to_string(crf) + " -pix_fmt yuv420p ";
  if (!png && (W % 2 || H % 2)) cmd += "-vf pad=ceil(iw/2)*2:ceil(ih/2)*2 ";
  cmd += quote(path);
  FILE* p = popen(cmd.c_str(), "w");
  check(p != nullptr, "world.write_video", "cannot start ffmpeg for ", path);
  for (const Image& f : frames) {
    if (f.width != W || f.height != H) {
      pclose(p);
      fail("world.write_video", "frame sizes differ; got ", f.width, "x", f.height, ", expected ", W, "x", H);
    }
    fwrite(f.rgb.data(), 1, f.rgb.size(), p);
  }
  const int rc = pclose(p);
  check(rc == 0, "world.write_video", "ffmpeg failed writing ", path, "; exit status ", rc);
}

std::vector<Image> read_video_ffmpeg(const std::string& path, int width, int height) {
  int W = width, H = height;
  if (W <= 0 || H <= 0) {
    const std::string probe = "ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 " + quote(path);
    FILE* p = popen(probe.c_str(), "r");
    check(p != nullptr, "world.read_video", "cannot start ffprobe for ", path);
    const int got = fscanf(p, "%d,%d", &W, &H);
    pclose(p);
    check(got == 2 && W > 0 && H > 0, "world.read_video", "cannot read the video size of ", path);
  }
  const std::string cmd = "ffmpeg -v error -i " + quote(path) + " -f rawvideo -pix_fmt rgb24 -s " +
                          std::to_string(W) + "x" + std::to_string(H) + " -";
  FILE* p = popen(cmd.c_str(), "r");
  check(p != nullptr, "world.read_video", "cannot start ffmpeg for ", path);
  std::vector<Image> frames;
  for (;;) {
    Image f{W, H, std::vector<uint8_t>(size_t(W) * H * 3)};
    if (fread(f.rgb.data(), 1, f.rgb.size(), p) != f.rgb.size()) break;
    frames.push_back(std::move(f));
  }
  const int rc = pclose(p);
  check(rc == 0 && !frames.empty(), "world.read_video", "cannot decode ", path, "; ffmpeg exit status ", rc);
  return frames;
}

// Box-filter downscale by an integer factor (the judge's robustness tests use 2x).
Image downscale(const Image& in, int factor) {
  check(factor >= 1, "world.downscale", "factor must be >= 1; got ", factor);
  Image out{in.width / factor, in.height / factor, {}};
  out.rgb.resize(size_t(out.width) * out.height * 3);
  const int n = factor * factor;
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < 3; ++c) {
        int acc = 0;
        for (int dy = 0; dy < factor; ++dy)
          for (int dx = 0; dx < factor; ++dx)
            acc += in.rgb[(size_t(y * factor + dy) * in.width + x * factor + dx) * 3 + c];
        out.rgb[(size_t(y) * out.width + x) * 3 + c] = uint8_t((acc + n / 2) / n);
      }
  return out;
}

}  // namespace kinema::world
