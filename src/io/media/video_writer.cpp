// Streaming writers on libavcodec/libavformat: MP4 (libx264), WebM (libvpx-vp9), GIF (two
// passes over a spool file: palette per clip, then dithered PAL8), PNG / PNG sequence / JPEG
// (one encoded packet per file). Signing happens in close(), on the finished files.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/media/av_util.hpp"
#include "io/media/gif_palette.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/media.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
}

namespace kinema {
namespace fs = std::filesystem;
using namespace media;

namespace {

std::string lower_ext(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool is_image(VideoFormat f) {
  return f == VideoFormat::png || f == VideoFormat::png_sequence || f == VideoFormat::jpeg;
}

// "out/f.png" → "out/f_%05d.png" unless the path already holds a printf pattern.
std::string sequence_pattern(const std::string& path) {
  if (path.find('%') != std::string::npos) return path;
  fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "_%05d" + p.extension().string())).string();
}

}  // namespace

VideoFormat format_from_path(const std::string& path) {
  std::string ext = lower_ext(path);
  if (ext == ".mp4" || ext == ".m4v" || ext == ".mov") return VideoFormat::mp4;
  if (ext == ".webm" || ext == ".mkv") return VideoFormat::webm;
  if (ext == ".gif") return VideoFormat::gif;
  if (ext == ".png")
    return path.find('%') != std::string::npos ? VideoFormat::png_sequence : VideoFormat::png;
  if (ext == ".jpg" || ext == ".jpeg") return VideoFormat::jpeg;
  fail("VideoWriter", "cannot tell the format of '", path, "' from its extension; got '", ext,
       "', expected .mp4, .webm, .gif, .png or .jpg");
}

struct VideoWriter::Impl {
  std::string path;
  VideoWriterOptions opt;
  VideoFormat format = VideoFormat::mp4;
  AVFormatContext* oc = nullptr;
  AVStream* stream = nullptr;
  CodecCtxPtr enc;
  AvFramePtr frame;
  PacketPtr pkt;
  SwsPtr sws;
  int64_t frames_in = 0;
  bool closed = false;
  // GIF: frames spooled raw, palette histogram gathered on the way.
  GifPalette palette;
  std::FILE* spool = nullptr;
  std::string spool_path;
  // Image formats: every file written, for signing.
  std::vector<std::string> files;

  ~Impl() {
    if (spool) std::fclose(spool);
    std::error_code ec;
    if (!spool_path.empty()) fs::remove(spool_path, ec);
    if (oc) {
      if (!(oc->oformat->flags & AVFMT_NOFILE) && oc->pb) avio_closep(&oc->pb);
      avformat_free_context(oc);
    }
  }

  void open();
  void open_encoder(const char* codec_name, AVPixelFormat pix_fmt, AVRational time_base);
  void encode(AVFrame* f);
  void write_image_frame(const Frame& frame);
  void write_gif();
  void finish();
};

void VideoWriter::Impl::open_encoder(const char* codec_name, AVPixelFormat pix_fmt,
                                     AVRational time_base) {
  const AVCodec* codec = avcodec_find_encoder_by_name(codec_name);
  check(codec != nullptr, "VideoWriter", "this FFmpeg has no '", codec_name, "' encoder for '",
        path, "'");
  enc.reset(avcodec_alloc_context3(codec));
  enc->width = opt.width;
  enc->height = opt.height;
  enc->pix_fmt = pix_fmt;
  enc->time_base = time_base;
  enc->framerate = av_d2q(opt.fps, 1001000);
  enc->color_range = pix_fmt == AV_PIX_FMT_YUVJ420P ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  if (pix_fmt == AV_PIX_FMT_YUV420P) {
    // BT.601 matrix, tagged so players and our reader convert back the same way.
    enc->colorspace = AVCOL_SPC_SMPTE170M;
    enc->color_primaries = AVCOL_PRI_SMPTE170M;
    enc->color_trc = AVCOL_TRC_SMPTE170M;
  }
  AVDictionary* o = nullptr;
  if (format == VideoFormat::mp4) {
    av_dict_set(&o, "preset", opt.preset.c_str(), 0);
    av_dict_set_int(&o, "crf", opt.crf, 0);
  } else if (format == VideoFormat::webm) {
    av_dict_set_int(&o, "crf", opt.crf, 0);
    av_dict_set(&o, "b", "0", 0);
    av_dict_set(&o, "deadline", "good", 0);
    av_dict_set(&o, "cpu-used", "5", 0);
    av_dict_set(&o, "row-mt", "1", 0);
  } else if (format == VideoFormat::jpeg) {
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * (2 + (100 - opt.jpeg_quality) * 29 / 99);
  }
  if (oc && (oc->oformat->flags & AVFMT_GLOBALHEADER)) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  int err = avcodec_open2(enc.get(), codec, &o);
  av_dict_free(&o);
  check_av(err, "VideoWriter", std::string("cannot open the ") + codec_name + " encoder for", path);
  frame.reset(av_frame_alloc());
  frame->format = pix_fmt;
  frame->width = opt.width;
  frame->height = opt.height;
  check_av(av_frame_get_buffer(frame.get(), 0), "VideoWriter", "cannot allocate a frame for", path);
  pkt.reset(av_packet_alloc());
  if (pix_fmt != AV_PIX_FMT_PAL8) {
    sws.reset(sws_getContext(opt.width, opt.height, AV_PIX_FMT_RGB24, opt.width, opt.height,
                             pix_fmt, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                             nullptr, nullptr, nullptr));
    check(sws != nullptr, "VideoWriter", "cannot convert RGB24 to the encoder's pixel format for '",
          path, "'");
    const int* coeffs = sws_getCoefficients(SWS_CS_ITU601);
    int dst_full = pix_fmt == AV_PIX_FMT_YUVJ420P ? 1 : 0;
    sws_setColorspaceDetails(sws.get(), coeffs, 1, coeffs, dst_full, 0, 1 << 16, 1 << 16);
  }
}

void VideoWriter::Impl::open() {
  quiet_libav_logs();
  check(opt.width > 0 && opt.height > 0 && opt.width <= 16384 && opt.height <= 16384,
        "VideoWriter", "frame size of '", path, "' must be 1..16384 on each side; got ", opt.width,
        "x", opt.height);
  check(opt.fps >= 1 && opt.fps <= 60, "VideoWriter", "fps of '", path, "' must be 1..60; got ",
        opt.fps);
  format = opt.format ? *opt.format : format_from_path(path);
  bool yuv = format == VideoFormat::mp4 || format == VideoFormat::webm;
  check(!yuv || (opt.width % 2 == 0 && opt.height % 2 == 0), "VideoWriter",
        "MP4/WebM (yuv420p) need an even frame size for '", path, "'; got ", opt.width, "x",
        opt.height);
  check(format != VideoFormat::mp4 || (opt.crf >= 0 && opt.crf <= 51), "VideoWriter",
        "crf for '", path, "' must be 0..51 for H.264; got ", opt.crf);
  check(format != VideoFormat::webm || (opt.crf >= 0 && opt.crf <= 63), "VideoWriter",
        "crf for '", path, "' must be 0..63 for VP9; got ", opt.crf);
  check(opt.jpeg_quality >= 1 && opt.jpeg_quality <= 100, "VideoWriter",
        "jpeg_quality must be 1..100; got ", opt.jpeg_quality);
  fs::path parent = fs::path(path).parent_path();
  check(parent.empty() || fs::is_directory(parent), "VideoWriter", "folder of '", path,
        "' does not exist");
  if (format == VideoFormat::gif) {
    spool_path = path + ".kinema-spool";
    spool = std::fopen(spool_path.c_str(), "wb");
    check(spool != nullptr, "VideoWriter", "cannot create the spool file '", spool_path, "'");
    return;
  }
  if (format == VideoFormat::png || format == VideoFormat::png_sequence) {
    open_encoder("png", AV_PIX_FMT_RGB24, AVRational{1, 1});
    return;
  }
  if (format == VideoFormat::jpeg) {
    open_encoder("mjpeg", AV_PIX_FMT_YUVJ420P, AVRational{1, 1});
    return;
  }
  const char* muxer = format == VideoFormat::mp4 ? "mp4" : "webm";
  check_av(avformat_alloc_output_context2(&oc, nullptr, muxer, path.c_str()), "VideoWriter",
           "cannot set up the output", path);
  AVRational tb = av_inv_q(av_d2q(opt.fps, 1001000));
  open_encoder(format == VideoFormat::mp4 ? "libx264" : "libvpx-vp9", AV_PIX_FMT_YUV420P, tb);
  stream = avformat_new_stream(oc, nullptr);
  check(stream != nullptr, "VideoWriter", "cannot add a stream to '", path, "'");
  stream->time_base = tb;
  stream->avg_frame_rate = enc->framerate;
  check_av(avcodec_parameters_from_context(stream->codecpar, enc.get()), "VideoWriter",
           "cannot copy encoder parameters for", path);
  check_av(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), "VideoWriter", "cannot create", path);
  AVDictionary* mo = nullptr;
  if (format == VideoFormat::mp4) av_dict_set(&mo, "movflags", "+faststart", 0);
  int err = avformat_write_header(oc, &mo);
  av_dict_free(&mo);
  check_av(err, "VideoWriter", "cannot write the header of", path);
}

void VideoWriter::Impl::encode(AVFrame* f) {
  check_av(avcodec_send_frame(enc.get(), f), "VideoWriter", "encoder refused a frame for", path);
  for (;;) {
    int err = avcodec_receive_packet(enc.get(), pkt.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    check_av(err, "VideoWriter", "encoding failed for", path);
    av_packet_rescale_ts(pkt.get(), enc->time_base, stream->time_base);
    pkt->stream_index = stream->index;
    err = av_interleaved_write_frame(oc, pkt.get());
    check_av(err, "VideoWriter", "cannot write a packet to", path);
  }
}

void VideoWriter::Impl::write_image_frame(const Frame& f) {
  check((format != VideoFormat::png && format != VideoFormat::jpeg) || frames_in == 0, "VideoWriter",
        "'", path, "' is a single image; got a second frame (use a .png path with %05d for a "
        "sequence)");
  std::string file = path;
  if (format == VideoFormat::png_sequence) {
    std::string pattern = sequence_pattern(path);
    std::vector<char> name(pattern.size() + 32);
    std::snprintf(name.data(), name.size(), pattern.c_str(), int(frames_in + 1));
    file = name.data();
  }
  frame->pts = frames_in;
  check_av(avcodec_send_frame(enc.get(), frame.get()), "VideoWriter", "encoder refused", file);
  int err = avcodec_receive_packet(enc.get(), pkt.get());
  check_av(err, "VideoWriter", "image encoding failed for", file);
  std::FILE* out = std::fopen(file.c_str(), "wb");
  check(out != nullptr, "VideoWriter", "cannot create '", file, "'");
  size_t want = size_t(pkt->size);
  size_t n = std::fwrite(pkt->data, 1, want, out);
  int closed_ok = std::fclose(out);
  av_packet_unref(pkt.get());
  check(n == want && closed_ok == 0, "VideoWriter", "short write to '", file, "'");
  files.push_back(file);
}

// Second GIF pass: the palette is final, so dither each spooled frame to it and encode.
void VideoWriter::Impl::write_gif() {
  check(std::fclose(spool) == 0, "VideoWriter", "cannot finish the spool file '", spool_path, "'");
  spool = nullptr;
  palette.build();
  check_av(avformat_alloc_output_context2(&oc, nullptr, "gif", path.c_str()), "VideoWriter",
           "cannot set up the output", path);
  open_encoder("gif", AV_PIX_FMT_PAL8, AVRational{1, 100});
  stream = avformat_new_stream(oc, nullptr);
  check(stream != nullptr, "VideoWriter", "cannot add a stream to '", path, "'");
  stream->time_base = AVRational{1, 100};
  stream->avg_frame_rate = av_d2q(opt.fps, 1001000);
  check_av(avcodec_parameters_from_context(stream->codecpar, enc.get()), "VideoWriter",
           "cannot copy encoder parameters for", path);
  check_av(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), "VideoWriter", "cannot create", path);
  AVDictionary* mo = nullptr;
  av_dict_set(&mo, "loop", "0", 0);
  int err = avformat_write_header(oc, &mo);
  av_dict_free(&mo);
  check_av(err, "VideoWriter", "cannot write the header of", path);
  std::FILE* in = std::fopen(spool_path.c_str(), "rb");
  check(in != nullptr, "VideoWriter", "cannot reopen the spool file '", spool_path, "'");
  std::vector<uint8_t> rgb(size_t(opt.width) * opt.height * 3);
  for (int64_t i = 0; i < frames_in; ++i) {
    if (std::fread(rgb.data(), 1, rgb.size(), in) != rgb.size()) {
      std::fclose(in);
      fail("VideoWriter", "spool file '", spool_path, "' is short at frame ", i);
    }
    check_av(av_frame_make_writable(frame.get()), "VideoWriter", "frame buffer busy for", path);
    palette.dither(rgb.data(), opt.width, opt.height, frame->data[0], frame->linesize[0]);
    std::memcpy(frame->data[1], palette.argb().data(), AVPALETTE_SIZE);
    frame->pts = std::llround(double(i) * 100.0 / opt.fps);
    encode(frame.get());
  }
  std::fclose(in);
}

void VideoWriter::Impl::finish() {
  if (is_image(format)) return;
  if (format == VideoFormat::gif) write_gif();
  encode(nullptr);
  check_av(av_write_trailer(oc), "VideoWriter", "cannot finish", path);
  check_av(avio_closep(&oc->pb), "VideoWriter", "cannot close", path);
}

VideoWriter::VideoWriter(const std::string& path, const VideoWriterOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->opt = options;
  impl_->open();
}

void VideoWriter::write(const Frame& f) {
  Impl& m = *impl_;
  check(!m.closed, "VideoWriter", "write after close on '", m.path, "'");
  check(f.width == m.opt.width && f.height == m.opt.height &&
            f.rgb.size() == size_t(f.width) * f.height * 3,
        "VideoWriter", "frame ", m.frames_in, " for '", m.path, "' has the wrong size; got ",
        f.width, "x", f.height, " with ", f.rgb.size(), " bytes, expected ", m.opt.width, "x",
        m.opt.height, " RGB24");
  if (m.format == VideoFormat::gif) {
    m.palette.add(f.rgb.data(), size_t(f.width) * f.height);
    check(std::fwrite(f.rgb.data(), 1, f.rgb.size(), m.spool) == f.rgb.size(), "VideoWriter",
          "cannot write the spool file '", m.spool_path, "' (disk full?)");
    ++m.frames_in;
    return;
  }
  check_av(av_frame_make_writable(m.frame.get()), "VideoWriter", "frame buffer busy for", m.path);
  const uint8_t* src[1] = {f.rgb.data()};
  int src_stride[1] = {f.width * 3};
  sws_scale(m.sws.get(), src, src_stride, 0, f.height, m.frame->data, m.frame->linesize);
  if (is_image(m.format)) {
    m.write_image_frame(f);
  } else {
    m.frame->pts = m.frames_in;
    m.encode(m.frame.get());
  }
  ++m.frames_in;
}

void VideoWriter::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  check(m.frames_in > 0, "VideoWriter", "no frames were written to '", m.path, "'");
  m.finish();
  if (m.opt.provenance) {
    if (is_image(m.format)) {
      for (const std::string& f : m.files) sign_file(f, *m.opt.provenance);
    } else {
      sign_file(m.path, *m.opt.provenance);
    }
  }
}

VideoWriter::~VideoWriter() {
  try {
    close();
  } catch (const Error&) {
    // Destructors must not throw; close() explicitly to see the error.
  }
}

void write_image(const std::string& path, const Frame& frame, Provenance* provenance) {
  VideoWriterOptions o;
  o.width = frame.width;
  o.height = frame.height;
  o.provenance = provenance;
  VideoFormat f = format_from_path(path);
  check(f == VideoFormat::png || f == VideoFormat::jpeg, "write_image", "'", path,
        "' is not an image path; expected .png or .jpg");
  VideoWriter w(path, o);
  w.write(frame);
  w.close();
}

}  // namespace kinema
