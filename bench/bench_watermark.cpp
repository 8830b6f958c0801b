// Watermark evaluation (issue 9, "Detector for our own outputs"): detection rate per attack on
// watermarked world renders (stand-ins for generated videos), false positives on videos kinema
// did not make (unmarked world renders, ffmpeg test sources, natural images from Debian packages
// panned into clips), and the visual cost (PSNR). Prints a table and one JSON line.
//   bench_watermark [--positives N] [--world N] [--ffmpeg N] [--natural N]
// Defaults: 200 positives per attack and 1200 negatives (600 + 300 + 300). Results:
// docs/safety-watermark.md. Exit status 1 when a target is missed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "kinema/media.hpp"
#include "kinema/watermark.hpp"
#include "kinema/world.hpp"

namespace fs = std::filesystem;
using namespace kinema;

namespace {

struct Tally {
  const char* name;
  int n = 0, hits = 0, geometries = 0;
  double min_z = 1e30, max_z = -1e30, sum_z = 0;
  void add(const WatermarkResult& r) {
    ++n, hits += r.detected, geometries = r.geometries;
    min_z = std::min(min_z, r.score), max_z = std::max(max_z, r.score), sum_z += r.score;
  }
};

std::vector<Frame> to_frames(const std::vector<world::Image>& imgs) {
  std::vector<Frame> out;
  for (const auto& im : imgs) out.push_back({im.width, im.height, im.rgb});
  return out;
}

void write_mp4(const std::string& path, const std::vector<Frame>& frames, int crf) {
  VideoWriterOptions o;
  o.width = frames[0].width, o.height = frames[0].height, o.fps = 24, o.crf = crf;
  VideoWriter w(path, o);
  for (const Frame& f : frames) w.write(f);
  w.close();
}

void write_as(const std::string& path, const std::vector<Frame>& frames, VideoFormat fmt) {
  VideoWriterOptions o;
  o.width = frames[0].width, o.height = frames[0].height, o.fps = 24, o.format = fmt;
  VideoWriter w(path, o);
  for (const Frame& f : frames) w.write(f);
  w.close();
}

Frame crop(const Frame& f, int x0, int y0, int w, int h) {
  Frame c{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    std::memcpy(&c.rgb[size_t(y) * w * 3], &f.rgb[(size_t(y0 + y) * f.width + x0) * 3], size_t(w) * 3);
  return c;
}

double psnr(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  double se = 0;
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t k = 0; k < a[i].rgb.size(); ++k) {
      const double d = double(a[i].rgb[k]) - b[i].rgb[k];
      se += d * d, ++n;
    }
  return se == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / (se / n));
}

// Bilinear sample of image im at (x, y) in pixel units.
void sample(const Frame& im, double x, double y, uint8_t* out) {
  x = std::clamp(x, 0.0, im.width - 1.0), y = std::clamp(y, 0.0, im.height - 1.0);
  const int x0 = std::min(int(x), im.width - 2 < 0 ? 0 : im.width - 2), y0 = std::min(int(y), im.height - 2 < 0 ? 0 : im.height - 2);
  const int x1 = std::min(x0 + 1, im.width - 1), y1 = std::min(y0 + 1, im.height - 1);
  const double a = x - x0, b = y - y0;
  for (int c = 0; c < 3; ++c) {
    auto p = [&](int xx, int yy) { return double(im.rgb[(size_t(yy) * im.width + xx) * 3 + c]); };
    const double v = (1 - b) * ((1 - a) * p(x0, y0) + a * p(x1, y0)) + b * ((1 - a) * p(x0, y1) + a * p(x1, y1));
    out[c] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
  }
}

// A natural image panned and zoomed into a clip (a window of 50-100% of the short side moving
// across the image).
std::vector<Frame> ken_burns(const Frame& im, int size, int frames, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  const double side = std::min(im.width, im.height) * (0.5 + 0.5 * u(rng));
  const double x0 = u(rng) * (im.width - side), y0 = u(rng) * (im.height - side);
  const double x1 = u(rng) * (im.width - side), y1 = u(rng) * (im.height - side);
  std::vector<Frame> out;
  for (int t = 0; t < frames; ++t) {
    const double a = frames > 1 ? double(t) / (frames - 1) : 0;
    const double ox = x0 + a * (x1 - x0), oy = y0 + a * (y1 - y0);
    Frame f{size, size, std::vector<uint8_t>(size_t(size) * size * 3)};
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        sample(im, ox + (x + 0.5) * side / size - 0.5, oy + (y + 0.5) * side / size - 0.5,
               &f.rgb[(size_t(y) * size + x) * 3]);
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<std::string> natural_images() {
  std::vector<std::string> out;
  for (const char* root : {"/usr/share", "/usr/lib"}) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file(ec)) continue;
      std::string p = it->path().string(), ext = it->path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if ((ext == ".png" || ext == ".jpg" || ext == ".jpeg") && it->file_size(ec) > 8000) out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

int arg_int(int argc, char** argv, const char* name, int def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return std::atoi(argv[i + 1]);
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const int positives = arg_int(argc, argv, "--positives", 200);
  const int n_world = arg_int(argc, argv, "--world", 600);
  const int n_ffmpeg = arg_int(argc, argv, "--ffmpeg", 300);
  const int n_natural = arg_int(argc, argv, "--natural", 300);
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path dir = fs::temp_directory_path() / ("kinema_wm_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto file = [&](const char* name) { return (dir / name).string(); };
  const WatermarkKey key;
  const int sizes[] = {128, 192, 256}, lengths[] = {25, 40, 60};

  // Positives: world renders, watermarked, written as the generator writes them (MP4, CRF 18),
  // then attacked. "Strip + re-encode" drops the credentials by decoding and encoding afresh.
  Tally clean{"no attack (MP4 CRF 18)"}, reenc{"strip + H.264 CRF 28"}, down{"0.5x downscale"},
      crop10{"10% crop (90% x 90%)"}, gif{"GIF (256 colours, dithered)"};
  double psnr_min = 1e9, psnr_sum = 0;
  std::mt19937_64 rng(9);
  for (int i = 0; i < positives; ++i) {
    world::SampleOptions so{sizes[i % 3], sizes[i % 3], 12, lengths[(i / 3) % 3]};
    std::vector<Frame> orig = to_frames(world::render(world::sample_scene(100000 + i, so)));
    std::vector<Frame> marked = orig;
    embed_watermark(marked, key);
    const double p = psnr(orig, marked);
    psnr_min = std::min(psnr_min, p), psnr_sum += p;
    write_mp4(file("gen.mp4"), marked, 18);
    const std::vector<Frame> got = read_video(file("gen.mp4"));
    clean.add(detect_watermark(got, key));
    write_mp4(file("crf28.mp4"), got, 28);
    reenc.add(detect_watermark(read_video(file("crf28.mp4")), key));
    VideoReadOptions half;
    half.width = so.width / 2, half.height = so.height / 2, half.resize = ResizeMode::stretch;
    write_mp4(file("half.mp4"), read_video(file("gen.mp4"), half), 18);
    down.add(detect_watermark(read_video(file("half.mp4")), key));
    const int cw = (int(std::lround(so.width * 0.9)) / 2) * 2, ch = (int(std::lround(so.height * 0.9)) / 2) * 2;
    const int cx = int(rng() % uint64_t(so.width - cw + 1)), cy = int(rng() % uint64_t(so.height - ch + 1));
    std::vector<Frame> cropped;
    for (const Frame& f : got) cropped.push_back(crop(f, cx, cy, cw, ch));
    write_mp4(file("crop.mp4"), cropped, 18);
    crop10.add(detect_watermark(read_video(file("crop.mp4")), key));
    write_as(file("clip.gif"), got, VideoFormat::gif);
    gif.add(detect_watermark(read_video(file("clip.gif")), key));
  }

  // Negatives.
  Tally neg_world{"world renders, unmarked"}, neg_ffmpeg{"ffmpeg test sources"}, neg_nat{"natural images (Debian)"};
  for (int i = 0; i < n_world; ++i) {
    world::SampleOptions so{sizes[i % 3], sizes[i % 3], 12, lengths[(i / 3) % 3]};
    write_mp4(file("neg.mp4"), to_frames(world::render(world::sample_scene(500000 + i, so))), 18);
    neg_world.add(detect_watermark(read_video(file("neg.mp4")), key));
  }
  const char* sources[] = {"testsrc", "testsrc2", "mandelbrot", "smptebars", "smptehdbars", "rgbtestsrc",
                           "yuvtestsrc", "cellauto", "life", "gradients", "sierpinski", "pal75bars",
                           "colorspectrum", "colorchart", "haldclutsrc"};
  const int n_sources = int(sizeof(sources) / sizeof(sources[0]));
  const char* post[] = {"null", "noise=alls=12:allf=t", "hue=h=90", "boxblur=2", "rotate=0.3",
                        "eq=contrast=1.4", "vflip", "noise=alls=30"};
  for (int i = 0; i < n_ffmpeg; ++i) {
    const int s = sizes[i % 3];
    std::string src = sources[i % n_sources];
    const int v = i / n_sources;
    if (src == "cellauto") src += "=rule=" + std::to_string(18 + 2 * v) + ":random_seed=" + std::to_string(v) + ":s=" + std::to_string(s) + "x" + std::to_string(s);
    else if (src == "life") src += "=random_seed=" + std::to_string(v) + ":s=" + std::to_string(s) + "x" + std::to_string(s);
    else if (src == "gradients" || src == "sierpinski") src += "=seed=" + std::to_string(v) + ":s=" + std::to_string(s) + "x" + std::to_string(s);
    else if (src == "mandelbrot") src += "=start_scale=" + std::to_string(3.0 / (1 + v)) + ":s=" + std::to_string(s) + "x" + std::to_string(s);
    else if (src == "colorchart" || src == "haldclutsrc") src += ",scale=" + std::to_string(s) + ":" + std::to_string(s);
    else src += "=s=" + std::to_string(s) + "x" + std::to_string(s);
    const std::string cmd = "ffmpeg -nostdin -loglevel error -y -f lavfi -i '" + src + ",format=yuv420p,trim=start_frame=" +
                            std::to_string(v * 7) + ":end_frame=" + std::to_string(v * 7 + lengths[i % 3]) + "," +
                            post[v % 8] + "' -an -c:v libx264 -crf 20 -pix_fmt yuv420p " + file("src.mp4");
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "bench_watermark: ffmpeg failed: %s\n", cmd.c_str());
      continue;
    }
    neg_ffmpeg.add(detect_watermark(read_video(file("src.mp4")), key));
  }
  const std::vector<std::string> images = natural_images();
  std::vector<Frame> stills;
  for (const auto& p : images) {
    try {
      auto f = read_video(p);
      if (!f.empty() && f[0].width >= 64 && f[0].height >= 64) stills.push_back(std::move(f[0]));
    } catch (const std::exception&) {
    }
  }
  std::fprintf(stderr, "bench_watermark: %zu natural images usable of %zu found\n", stills.size(), images.size());
  for (int i = 0; i < n_natural && !stills.empty(); ++i) {
    std::vector<Frame> clip = ken_burns(stills[i % stills.size()], sizes[i % 3], lengths[(i / 3) % 3], rng);
    write_mp4(file("nat.mp4"), clip, 23);
    neg_nat.add(detect_watermark(read_video(file("nat.mp4")), key));
  }
  fs::remove_all(dir);

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double z_star = 0;  // the smallest score detected, by bisection on the p-value
  for (double lo = 0, hi = 20; hi - lo > 1e-3; z_star = (lo + hi) / 2) {
    const double mid = (lo + hi) / 2;
    const double c = 1.0 / (2 * std::erfc(1.0));
    const double p = clean.geometries * std::min(std::exp(-0.5 * mid * mid), c * 0.5 * std::erfc(mid / std::sqrt(2.0)));
    (p <= kWatermarkPThreshold ? hi : lo) = mid;
  }
  std::printf("bench_watermark: threshold p <= %g (z >= %.2f over %d geometries); %.0f s\n", kWatermarkPThreshold,
              z_star, clean.geometries, secs);
  std::printf("%-30s %6s %9s %9s %7s %7s %7s\n", "positives (watermarked)", "videos", "detected", "rate", "min z", "mean z", "max z");
  bool ok = true;
  for (const Tally* t : {&clean, &reenc, &down, &crop10, &gif}) {
    const double rate = t->n ? double(t->hits) / t->n : 0;
    ok = ok && rate >= 0.99;
    std::printf("%-30s %6d %9d %8.1f%% %7.2f %7.2f %7.2f\n", t->name, t->n, t->hits, 100 * rate, t->min_z,
                t->n ? t->sum_z / t->n : 0, t->max_z);
  }
  std::printf("%-30s %6s %9s %9s %7s %7s %7s\n", "negatives (not kinema)", "videos", "flagged", "rate", "min z", "mean z", "max z");
  int neg_n = 0, neg_hits = 0;
  for (const Tally* t : {&neg_world, &neg_ffmpeg, &neg_nat}) {
    neg_n += t->n, neg_hits += t->hits;
    std::printf("%-30s %6d %9d %8.2f%% %7.2f %7.2f %7.2f\n", t->name, t->n, t->hits,
                t->n ? 100.0 * t->hits / t->n : 0, t->min_z, t->n ? t->sum_z / t->n : 0, t->max_z);
  }
  const double fpr = neg_n ? double(neg_hits) / neg_n : 1;
  ok = ok && fpr <= 0.001 && psnr_min >= 42;
  std::printf("%-30s %6d %9d %8.2f%%\n", "all negatives", neg_n, neg_hits, 100 * fpr);
  std::printf("PSNR of the mark: mean %.2f dB, min %.2f dB over %d videos (target >= 42)\n",
              positives ? psnr_sum / positives : 0, psnr_min, positives);
  std::printf("{\"bench\":\"watermark\",\"reencode_crf28\":%.4f,\"downscale\":%.4f,\"crop10\":%.4f,\"gif\":%.4f,"
              "\"false_positive_rate\":%.5f,\"negatives\":%d,\"psnr_min_db\":%.2f,\"seconds\":%.0f}\n",
              reenc.n ? double(reenc.hits) / reenc.n : 0, down.n ? double(down.hits) / down.n : 0,
              crop10.n ? double(crop10.hits) / crop10.n : 0, gif.n ? double(gif.hits) / gif.n : 0, fpr, neg_n,
              psnr_min, secs);
  return ok ? 0 : 1;
}
