// Frame reader on libavformat/libavcodec: seeking by time, fps resampling by sample-and-hold,
// and resize (stretch / center-crop / pad) in RGB24. Hostile files: an interrupt callback
// bounds wall time, the decoder's max_pixels bounds memory per frame, max_frames bounds the
// result, and every failure names the file.
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "io/media/av_util.hpp"
#include "io/media/webp_read.hpp"
#include "kinema/media.hpp"

extern "C" {
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
}

namespace kinema {
namespace fs = std::filesystem;
using namespace media;

namespace media {
void quiet_libav_logs() {
  static const bool once = [] {
    // KINEMA_AV_LOG=1 keeps libav's own messages (debugging a file libav rejects).
    const char* keep = std::getenv("KINEMA_AV_LOG");
    av_log_set_level(keep && *keep == '1' ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    return true;
  }();
  (void)once;
}
}  // namespace media

namespace {

using Clock = std::chrono::steady_clock;

struct Deadline {
  Clock::time_point at;
  bool passed() const { return Clock::now() > at; }
};

int interrupt_cb(void* opaque) { return static_cast<Deadline*>(opaque)->passed() ? 1 : 0; }

// An open input with its video decoder; closes everything on destruction.
struct Input {
  std::string path;
  AVFormatContext* ic = nullptr;
  AVStream* stream = nullptr;
  CodecCtxPtr dec;
  Deadline deadline;

  ~Input() {
    if (ic) avformat_close_input(&ic);
  }

  void open(const VideoReadOptions& opt, const char* where) {
    quiet_libav_logs();
    std::error_code ec;
    check(fs::is_regular_file(path, ec), where, "'", path, "' is not a readable file");
    check(fs::file_size(path, ec) > 0, where, "'", path, "' is empty (0 bytes)");
    deadline.at = Clock::now() + std::chrono::milliseconds(int64_t(opt.timeout_s * 1000));
    ic = avformat_alloc_context();
    check(ic != nullptr, where, "out of memory opening '", path, "'");
    ic->interrupt_callback.callback = interrupt_cb;
    ic->interrupt_callback.opaque = &deadline;
    int err = avformat_open_input(&ic, path.c_str(), nullptr, nullptr);
    if (err < 0) {
      ic = nullptr;  // freed by avformat_open_input on failure
      check(err != AVERROR_EXIT, where, "opening '", path, "' took longer than ", opt.timeout_s, " s");
      fail(where, "'", path, "' is not a media file kinema can read: ", av_error_text(err));
    }
    err = avformat_find_stream_info(ic, nullptr);
    check(err != AVERROR_EXIT, where, "probing '", path, "' took longer than ", opt.timeout_s, " s");
    check_av(err, where, "cannot read the stream layout of", path);
    int idx = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    check(idx >= 0, where, "'", path, "' has no video or image stream");
    stream = ic->streams[idx];
    const AVCodecParameters* par = stream->codecpar;
    check(par->width > 0 && par->height > 0, where, "'", path,
          "' declares no frame size; got ", par->width, "x", par->height);
    check(int64_t(par->width) * par->height <= opt.max_pixels, where, "'", path,
          "' frame size is too large; got ", par->width, "x", par->height, ", expected at most ",
          opt.max_pixels, " pixels");
    // FFmpeg 5.1's WebP decoder can abort the process on damaged input (see webp_read.cpp).
    check(par->codec_id != AV_CODEC_ID_WEBP, where, "'", path,
          "' holds WebP data inside another container; only plain .webp files are supported");
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    check(codec != nullptr, where, "no decoder for codec '", avcodec_get_name(par->codec_id),
          "' of '", path, "'");
    dec.reset(avcodec_alloc_context3(codec));
    check_av(avcodec_parameters_to_context(dec.get(), par), where, "bad codec parameters in", path);
    dec->max_pixels = opt.max_pixels;
    dec->thread_count = 2;
    check_av(avcodec_open2(dec.get(), codec, nullptr), where, "cannot open the decoder for", path);
  }
};

// Decoded frame → RGB24 at its native size, honouring the frame's matrix and range tags.
class ToRgb {
 public:
  Frame convert(const AVFrame* f, const std::string& path) {
    auto fmt = AVPixelFormat(f->format);
    if (!sws_ || f->width != w_ || f->height != h_ || fmt != fmt_) {
      w_ = f->width, h_ = f->height, fmt_ = fmt;
      sws_.reset(sws_getContext(w_, h_, fmt, w_, h_, AV_PIX_FMT_RGB24,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr,
                                nullptr, nullptr));
      check(sws_ != nullptr, "read_video", "cannot convert pixel format '",
            av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?", "' of '", path, "'");
      int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
      bool full = f->color_range == AVCOL_RANGE_JPEG || fmt == AV_PIX_FMT_YUVJ420P ||
                  fmt == AV_PIX_FMT_YUVJ422P || fmt == AV_PIX_FMT_YUVJ444P;
      const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
      bool is_rgb = d && (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL));
      if (!is_rgb)
        sws_setColorspaceDetails(sws_.get(), sws_getCoefficients(cs), full ? 1 : 0,
                                 sws_getCoefficients(SWS_CS_ITU601), 1, 0, 1 << 16, 1 << 16);
    }
    Frame out;
    out.width = w_, out.height = h_;
    out.rgb.resize(size_t(w_) * h_ * 3);
    uint8_t* dst[1] = {out.rgb.data()};
    int dst_stride[1] = {w_ * 3};
    sws_scale(sws_.get(), f->data, f->linesize, 0, h_, dst, dst_stride);
    return out;
  }

 private:
  SwsPtr sws_;
  int w_ = 0, h_ = 0;
  AVPixelFormat fmt_ = AV_PIX_FMT_NONE;
};

// Brings an RGB24 frame to (width, height) by stretch, center-crop or pad.
Frame fit_frame(Frame in, const VideoReadOptions& opt) {
  int W = opt.width, H = opt.height;
  if (W == 0 && H == 0) return in;
  if (W == 0) W = std::max(1, int(std::lround(double(H) * in.width / in.height)));
  if (H == 0) H = std::max(1, int(std::lround(double(W) * in.height / in.width)));
  if (W == in.width && H == in.height) return in;
  int sx = 0, sy = 0, sw = in.width, sh = in.height;  // source rectangle
  int dx = 0, dy = 0, dw = W, dh = H;                 // destination rectangle
  double src_aspect = double(in.width) / in.height, dst_aspect = double(W) / H;
  if (opt.resize == ResizeMode::crop) {
    if (src_aspect > dst_aspect) {
      sw = std::max(1, int(std::lround(in.height * dst_aspect)));
      sx = (in.width - sw) / 2;
    } else {
      sh = std::max(1, int(std::lround(in.width / dst_aspect)));
      sy = (in.height - sh) / 2;
    }
  } else if (opt.resize == ResizeMode::pad) {
    if (src_aspect > dst_aspect) {
      dh = std::max(1, int(std::lround(W / src_aspect)));
      dy = (H - dh) / 2;
    } else {
      dw = std::max(1, int(std::lround(H * src_aspect)));
      dx = (W - dw) / 2;
    }
  }
  SwsPtr sws(sws_getContext(sw, sh, AV_PIX_FMT_RGB24, dw, dh, AV_PIX_FMT_RGB24,
                            SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
  check(sws != nullptr, "read_video", "cannot resize ", sw, "x", sh, " to ", dw, "x", dh);
  Frame out;
  out.width = W, out.height = H;
  out.rgb.assign(size_t(W) * H * 3, 0);
  const uint8_t* src[1] = {in.rgb.data() + (size_t(sy) * in.width + sx) * 3};
  int src_stride[1] = {in.width * 3};
  uint8_t* dst[1] = {out.rgb.data() + (size_t(dy) * W + dx) * 3};
  int dst_stride[1] = {W * 3};
  sws_scale(sws.get(), src, src_stride, 0, sh, dst, dst_stride);
  return out;
}

}  // namespace

namespace {

// Plain .webp files go to libwebp (see webp_read.cpp); returns nothing for other files.
std::optional<std::vector<Frame>> read_webp(const std::string& path, const VideoReadOptions& opt) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> head(12);
  f.read(reinterpret_cast<char*>(head.data()), 12);
  head.resize(size_t(std::max<std::streamsize>(0, f.gcount())));
  if (!is_webp(head)) return std::nullopt;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  check(!ec && size < (uint64_t(1) << 30), "read_video", "'", path, "' is not a readable WebP under 1 GiB");
  std::vector<uint8_t> data(size);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(data.data()), std::streamsize(size));
  check(f.gcount() == std::streamsize(size), "read_video", "cannot read '", path, "'");
  return std::vector<Frame>{fit_frame(decode_webp(data, path, opt.max_pixels), opt)};
}

// Decides which decoded frames become output frames: every frame in [start, end) at the
// native rate, or sample-and-hold at opt.fps (output k is due at start + k/fps and shows the
// latest frame whose time is at or before it).
class FrameSampler {
 public:
  FrameSampler(const VideoReadOptions& opt, const std::string& path, double native_step)
      : opt_(opt), path_(path), native_step_(native_step),
        end_(opt.duration_s < 0 ? INFINITY : opt.start_s + opt.duration_s) {}

  bool done() const { return done_; }
  int64_t decoded() const { return decoded_; }

  // t: seconds from the stream start; NaN when the frame has no timestamp.
  void add(AVFrame* fr, double t) {
    if (std::isnan(t)) t = double(decoded_) * native_step_;
    ++decoded_;
    if (opt_.fps == 0) {
      if (t + kEps >= opt_.start_s && t + kEps < end_) emit(fr);
      if (t + kEps >= end_) done_ = true;
      return;
    }
    while (held_t_ >= 0) {  // output times before this frame show the held one
      double due = due_at(next_k_);
      if (due >= end_ - kEps || due + kEps >= t) break;
      if (due + kEps >= held_t_) emit(held_.get());
      ++next_k_;
    }
    if (due_at(next_k_) >= end_ - kEps) done_ = true;
    av_frame_unref(held_.get());
    check_av(av_frame_ref(held_.get(), fr), "read_video", "cannot keep a frame of", path_);
    held_t_ = t;
  }

  // The last held frame lasts one native frame period past its time.
  void finish() {
    if (opt_.fps == 0 || held_t_ < 0) return;
    double held_end = std::min(end_, held_t_ + native_step_);
    for (;; ++next_k_) {
      double due = due_at(next_k_);
      if (due >= held_end - kEps) break;
      if (due + kEps >= held_t_) emit(held_.get());
    }
  }

  std::vector<Frame> take() { return std::move(out_); }

 private:
  static constexpr double kEps = 1e-4;
  double due_at(int64_t k) const { return opt_.start_s + double(k) / opt_.fps; }
  void emit(const AVFrame* f) {
    check(int64_t(out_.size()) < opt_.max_frames, "read_video", "'", path_, "' yields more than ",
          opt_.max_frames, " frames; read a shorter span or raise max_frames");
    out_.push_back(fit_frame(to_rgb_.convert(f, path_), opt_));
  }

  const VideoReadOptions& opt_;
  const std::string& path_;
  double native_step_, end_;
  std::vector<Frame> out_;
  ToRgb to_rgb_;
  AvFramePtr held_{av_frame_alloc()};
  double held_t_ = -1;
  int64_t next_k_ = 0, decoded_ = 0;
  bool done_ = false;
};

// Demuxes and decodes until the sampler has what it needs, the file ends, or time runs out.
void decode_into(Input& in, const VideoReadOptions& opt, FrameSampler& sampler) {
  const char* where = "read_video";
  AVStream* st = in.stream;
  double tb = av_q2d(st->time_base);
  int64_t t0 = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
  AvFramePtr f(av_frame_alloc());
  PacketPtr pkt(av_packet_alloc());
  auto drain = [&]() {
    while (!sampler.done()) {
      int err = avcodec_receive_frame(in.dec.get(), f.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      check_av(err, where, "cannot decode a frame of", in.path);
      int64_t pts = f->best_effort_timestamp;
      sampler.add(f.get(), pts == AV_NOPTS_VALUE ? NAN : double(pts - t0) * tb);
      av_frame_unref(f.get());
    }
  };
  while (!sampler.done()) {
    check(!in.deadline.passed(), where, "reading '", in.path, "' took longer than ", opt.timeout_s,
          " s; the file looks hostile or is far too long");
    int err = av_read_frame(in.ic, pkt.get());
    if (err == AVERROR_EOF) break;
    check(err != AVERROR_EXIT, where, "reading '", in.path, "' took longer than ", opt.timeout_s, " s");
    if (err < 0) break;  // a damaged tail: keep what decoded so far
    if (pkt->stream_index == st->index) {
      err = avcodec_send_packet(in.dec.get(), pkt.get());
      if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_INVALIDDATA)
        check_av(err, where, "decoder rejected a packet of", in.path);
      drain();
    }
    av_packet_unref(pkt.get());
  }
  if (!sampler.done()) {
    avcodec_send_packet(in.dec.get(), nullptr);
    drain();
  }
}

}  // namespace

std::vector<Frame> read_video(const std::string& path, const VideoReadOptions& opt) {
  const char* where = "read_video";
  check(opt.fps >= 0 && opt.fps <= 1000, where, "fps for '", path, "' must be 0..1000; got ", opt.fps);
  check(opt.width >= 0 && opt.height >= 0 && opt.width <= 16384 && opt.height <= 16384, where,
        "target size for '", path, "' must be 0..16384; got ", opt.width, "x", opt.height);
  check(opt.start_s >= 0, where, "start_s must be >= 0; got ", opt.start_s);
  if (auto webp = read_webp(path, opt)) return std::move(*webp);
  Input in;
  in.path = path;
  in.open(opt, where);
  AVStream* st = in.stream;
  if (opt.start_s > 0) {
    int64_t t0 = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
    int64_t ts = t0 + int64_t(opt.start_s / av_q2d(st->time_base));
    if (av_seek_frame(in.ic, st->index, ts, AVSEEK_FLAG_BACKWARD) >= 0) avcodec_flush_buffers(in.dec.get());
  }
  AVRational guess = av_guess_frame_rate(in.ic, st, nullptr);
  FrameSampler sampler(opt, path, guess.num > 0 ? av_q2d(av_inv_q(guess)) : 1.0 / 24);
  decode_into(in, opt, sampler);
  sampler.finish();
  std::vector<Frame> out = sampler.take();
  check(!out.empty() || sampler.decoded() > 0 || opt.start_s > 0, where, "'", path,
        "' has a video stream but no frame could be decoded (corrupt or truncated)");
  return out;
}

MediaInfo probe_media(const std::string& path) {
  Input in;
  in.path = path;
  VideoReadOptions opt;
  in.open(opt, "probe_media");
  MediaInfo info;
  info.width = in.stream->codecpar->width;
  info.height = in.stream->codecpar->height;
  AVRational r = av_guess_frame_rate(in.ic, in.stream, nullptr);
  info.fps = r.num > 0 ? av_q2d(r) : 0;
  info.duration_s = in.ic->duration > 0 ? double(in.ic->duration) / AV_TIME_BASE : 0;
  info.frames = in.stream->nb_frames;
  info.container = in.ic->iformat->name;
  info.codec = avcodec_get_name(in.stream->codecpar->codec_id);
  return info;
}

}  // namespace kinema
