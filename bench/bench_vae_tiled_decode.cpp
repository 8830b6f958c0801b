// VAE decode memory at Wan's size (issue 8: "VAE decoding is tiled in space and chunked in time
// so 480p x 81 frames decodes within 24 GiB"): a random-weight Wan2.1 VAE (wan21_vae_config(),
// dim 96) decodes a random latent of 832x480 x 81 frames ([1, 16, 21, 60, 104]) untiled and in
// tiles of 32 latent pixels (overlap 8), each in a child process of its own so the peak resident
// memory (getrusage ru_maxrss) is that decode's alone. Reports seconds and peak GiB per mode;
// exits 1 when the tiled decode's peak reaches 24 GiB (or a child fails).
//
// The full case takes long on a small machine (about 8 MFLOP per output pixel and frame);
// --frames 5 checks it quickly. Options:
//   bench_vae_tiled_decode [--frames N (1 + 4k, default 81)] [--size WxH (default 832x480)]
//                          [--tile T (default 32)] [--overlap O (default 8)]
//                          [--mode both|tiled|untiled] [--threads N (default: all cores)]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/vae.hpp"
#include "in_child.hpp"

namespace {
using kinema::bench::now_s;

struct Args {
  int frames = 81, width = 832, height = 480, threads = 0;
  int64_t tile = 32, overlap = 8;
  std::string mode = "both";
};

struct Result {
  int ok = 0;
  double seconds = 0, peak_gib = 0;
  double checksum = 0;
};

// In a child process: build the VAE and latent, decode once, report time and peak memory.
Result decode_in_child(const Args& a, bool tiled) {
  return kinema::bench::in_child<Result>([&] {
    Result r;
    try {
      kinema::Context ctx(kinema::ContextOptions{a.threads});
      kinema::ContextScope scope(ctx);
      kinema::NoGradGuard no_grad;
      const kinema::VAE vae = kinema::VAE::init_random(kinema::wan21_vae_config(), 1);
      const int64_t s = vae.config().spatial_compression(), tc = vae.config().temporal_compression();
      const kinema::Shape shape = {1, vae.config().z_dim, 1 + (a.frames - 1) / tc, a.height / s, a.width / s};
      std::vector<float> z(size_t(kinema::shape_numel(shape)));
      uint32_t state = 12345;
      for (float& v : z) state = state * 1664525u + 1013904223u, v = float(state >> 8) / float(1 << 24) * 2.f - 1.f;
      const kinema::Tensor latent = kinema::Tensor::from_vector(z, shape);
      z = {};
      const double t0 = now_s();
      const kinema::Tensor video = tiled ? vae.decode_tiled(latent, {a.tile, a.overlap}) : vae.decode(latent);
      r.seconds = now_s() - t0;
      const float* p = video.data<float>();
      for (int64_t i = 0; i < video.numel(); i += 4097) r.checksum += p[i];
      r.peak_gib = kinema::bench::peak_rss_gib();
      r.ok = 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s decode failed: %s\n", tiled ? "tiled" : "untiled", e.what());
    }
    return r;
  });
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--frames") a.frames = std::atoi(v.c_str());
    else if (k == "--size") std::sscanf(v.c_str(), "%dx%d", &a.width, &a.height);
    else if (k == "--tile") a.tile = std::atoll(v.c_str());
    else if (k == "--overlap") a.overlap = std::atoll(v.c_str());
    else if (k == "--mode") a.mode = v;
    else if (k == "--threads") a.threads = std::atoi(v.c_str());
    else std::fprintf(stderr, "unknown option %s\n", k.c_str()), std::exit(2);
  }
  if (a.frames < 1 || (a.frames - 1) % 4 != 0 || a.width % 8 || a.height % 8 || a.tile <= a.overlap ||
      (a.mode != "both" && a.mode != "tiled" && a.mode != "untiled")) {
    std::fprintf(stderr, "need --frames 1 + 4k, --size a multiple of 8, --tile > --overlap, --mode both|tiled|untiled\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const std::string name = std::to_string(a.width) + "x" + std::to_string(a.height) + "x" + std::to_string(a.frames);
  std::fprintf(stderr, "Wan2.1 VAE (dim 96, random weights) decoding %s (latent [1, 16, %d, %d, %d])\n", name.c_str(),
               1 + (a.frames - 1) / 4, a.height / 8, a.width / 8);
  constexpr double kLimitGib = 24.0;
  int rc = 0;
  for (const bool tiled : {true, false}) {
    if (a.mode != "both" && (a.mode == "tiled") != tiled) continue;
    const Result r = decode_in_child(a, tiled);
    const std::string mode = tiled ? "tiled" + std::to_string(a.tile) + "_" + std::to_string(a.overlap) : "untiled";
    if (!r.ok) {
      rc = 1;
      continue;
    }
    std::fprintf(stderr, "%-12s %8.1f s  peak RSS %6.2f GiB  (checksum %.4g)\n", mode.c_str(), r.seconds, r.peak_gib,
                 r.checksum);
    kinema::bench::report("vae_tiled_decode", name + "_" + mode + "_seconds", r.seconds, "s", 0);
    kinema::bench::report("vae_tiled_decode", name + "_" + mode + "_peak_rss", r.peak_gib, "GiB", kLimitGib);
    if (tiled && r.peak_gib >= kLimitGib) {
      std::fprintf(stderr, "tiled decode peaked at %.2f GiB, over the %.0f GiB bound\n", r.peak_gib, kLimitGib);
      rc = 1;
    }
  }
  return rc;
}
