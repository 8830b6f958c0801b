// kinema media I/O: streaming video/image writers and a frame reader, on FFmpeg's libav*.
//
// Contracts:
// - Frames are packed RGB24, row-major, width*height*3 bytes; writers check every frame's size.
// - VideoWriter streams: it encodes each frame as it arrives and never holds the clip (GIF
//   spools frames to a temporary file next to the output for its second, palette pass).
// - When options.provenance is set, close() embeds C2PA content credentials in the file (MP4,
//   PNG, JPEG) or writes a sidecar `<file>.c2pa` (WebM, GIF); see kinema/c2pa.hpp.
// - read_video() reads MP4/MOV/WebM/MKV/GIF and still images (PNG/JPEG/WebP, one frame).
// - Every failure throws kinema::Error naming the file; hostile input never crashes or hangs.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kinema {

struct Provenance;  // kinema/c2pa.hpp

struct Frame {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // packed RGB24, row-major: [height, width, 3]
};

// png writes a single image (the first frame; a second write() is an error);
// png_sequence writes path with "%05d" (or "#####"-free paths get "_%05d" before the
// extension) numbered from 1.
enum class VideoFormat { mp4, webm, gif, png, png_sequence, jpeg };

// From the extension: .mp4/.m4v/.mov → mp4, .webm/.mkv → webm, .gif, .png (png_sequence when
// the path holds a '%' pattern), .jpg/.jpeg. Throws for anything else.
VideoFormat format_from_path(const std::string& path);

struct VideoWriterOptions {
  int width = 0, height = 0;          // any even size for mp4/webm (yuv420p); any size otherwise
  double fps = 24;                    // 1..60
  int crf = 18;                       // mp4: x264 CRF 0..51; webm: VP9 CRF 0..63
  std::optional<VideoFormat> format;  // default: from the path's extension
  // x264 preset: a speed/size trade-off at equal CRF. superfast keeps 512x512 encoding above
  // 120 fps on 2 busy cores (veryfast: ~100 fps, files ~40% smaller); quality stays >= 40 dB.
  std::string preset = "superfast";
  int jpeg_quality = 92;              // 1..100 for jpeg
  Provenance* provenance = nullptr;   // non-null: sign the output with C2PA credentials
};

class VideoWriter {
 public:
  VideoWriter(const std::string& path, const VideoWriterOptions& options);
  void write(const Frame& frame);
  // Flushes the encoder, finishes the file and (with provenance) signs it. Idempotent.
  void close();
  ~VideoWriter();  // closes if close() was not called; swallows errors (call close() to see them)
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// How a frame of another aspect ratio is brought to width×height.
enum class ResizeMode {
  stretch,        // scale each axis independently to exactly width×height
  fit = stretch,  // the name the first API draft used
  crop,           // scale to cover, then center-crop
  pad,            // scale to fit inside, then center on black (letterbox)
};

struct VideoReadOptions {
  double start_s = 0, duration_s = -1;  // duration < 0: to the end
  double fps = 0;                       // 0: native frames; otherwise resample (repeat/drop)
  int width = 0, height = 0;            // 0,0: native size; one 0: keep aspect ratio
  ResizeMode resize = ResizeMode::crop;
  int64_t max_frames = 100000;          // refuse to return more (memory guard)
  int64_t max_pixels = int64_t(1) << 26;  // per frame (8192×8192); larger input is refused
  double timeout_s = 60;                // abort demux/decode that runs longer (hostile files)
};

// Reads frames in [start_s, start_s + duration_s). Still images give one frame.
std::vector<Frame> read_video(const std::string& path, const VideoReadOptions& options = {});

struct MediaInfo {
  int width = 0, height = 0;
  double fps = 0, duration_s = 0;
  int64_t frames = 0;  // 0 when the container does not say
  std::string container, codec;
};
MediaInfo probe_media(const std::string& path);

// Writes one frame as PNG or JPEG (by extension), signed when provenance is given.
void write_image(const std::string& path, const Frame& frame, Provenance* provenance = nullptr);

}  // namespace kinema
