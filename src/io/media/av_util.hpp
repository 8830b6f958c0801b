// Small RAII and error helpers over FFmpeg's C API, private to src/io/media.
#pragma once
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>
}
#include <memory>
#include <string>

#include "kinema/error.hpp"

namespace kinema::media {

inline std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

// Throws "[where] <what> '<path>': <libav message>" when err < 0.
inline void check_av(int err, const char* where, const std::string& what, const std::string& path) {
  if (err < 0) fail(where, what, " '", path, "': ", av_error_text(err));
}

struct CodecCtxDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using CodecCtxPtr = std::unique_ptr<AVCodecContext, CodecCtxDeleter>;
using AvFramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

// Silences libav's own logging once (errors reach the user through kinema::Error instead).
void quiet_libav_logs();

}  // namespace kinema::media
