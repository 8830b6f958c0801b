// Shared helpers for kinema's benchmarks: wall-clock timing with warm-up, the machine peaks
// measured by bench_peak (read from bench/results/peak.json), and one JSON line per result
// so bench/run can assemble the table.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "kinema/dit.hpp"

namespace kinema::bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median seconds per call of f over `reps` timed runs after one warm-up (min_time bounds reps).
inline double time_it(const std::function<void()>& f, int reps = 5, double min_time = 0.0) {
  f();
  std::vector<double> t;
  double start = now_s();
  for (int i = 0; i < reps || now_s() - start < min_time; ++i) {
    double a = now_s();
    f();
    t.push_back(now_s() - a);
    if (i > 1000) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Variants of one computation timed in turns (one call of each per round, after a warm-up),
// so a machine shared with other work slows them alike; the median seconds per variant.
struct Variant {
  std::string name;
  std::function<void()> run;
  std::vector<double> times;
};
inline std::vector<double> interleaved(std::vector<Variant>& vs, int rounds) {
  for (Variant& v : vs) v.run();
  for (int r = 0; r < rounds; ++r)
    for (Variant& v : vs) {
      const double a = now_s();
      v.run();
      v.times.push_back(now_s() - a);
    }
  std::vector<double> med;
  for (Variant& v : vs) {
    std::sort(v.times.begin(), v.times.end());
    med.push_back(v.times[v.times.size() / 2]);
  }
  return med;
}

struct Peaks {
  double f32_gflops = 0, bf16_gflops = 0, memcpy_gbs = 0;
};

// Reads the peaks bench_peak wrote; zeros when it has not run.
inline Peaks read_peaks() {
  Peaks p;
  std::ifstream f(std::string(KINEMA_BENCH_RESULTS) + "/peak.json");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto get = [&](const char* key) {
    size_t at = s.find(std::string("\"") + key + "\"");
    if (at == std::string::npos) return 0.0;
    return std::stod(s.substr(s.find(':', at) + 1));
  };
  p.f32_gflops = get("f32_fma_gflops");
  p.bf16_gflops = get("bf16_peak_gflops");
  p.memcpy_gbs = get("memcpy_gbs");
  return p;
}

// One result line: {"bench":..,"case":..,"value":..,"unit":..,"fraction_of_peak":..,"peer":..,"peer_value":..}
inline void report(const std::string& bench, const std::string& name, double value,
                   const std::string& unit, double peak, const std::string& peer = "",
                   double peer_value = 0) {
  std::printf("{\"bench\":\"%s\",\"case\":\"%s\",\"value\":%.4g,\"unit\":\"%s\",\"fraction_of_peak\":%.4f",
              bench.c_str(), name.c_str(), value, unit.c_str(), peak > 0 ? value / peak : 0.0);
  if (!peer.empty()) std::printf(",\"peer\":\"%s\",\"peer_value\":%.4g", peer.c_str(), peer_value);
  std::printf("}\n");
  std::fflush(stdout);
}

// The default model's DiT (models/default): dim 256, 4 heads, 8 layers, MLP 1024, frame
// conditioning (in 36 = 16 + 4 mask + 16 known, out 16), text width 256.
inline kinema::DiTConfig default_dit_config() {
  kinema::DiTConfig c;
  c.dim = 256, c.num_heads = 4, c.num_layers = 8, c.ffn_dim = 1024, c.freq_dim = 256;
  c.in_dim = 36, c.out_dim = 16, c.text_dim = 256;
  return c;
}

// Forward FLOPs of one DiT sample (multiply-add = 2): matmuls and attention, analytically.
inline double dit_forward_flops(const kinema::DiTConfig& c, int64_t tokens, int64_t text_len) {
  const double d = double(c.dim), f = double(c.ffn_dim), n = double(tokens), l = double(text_len);
  const double pv = double(c.patch_volume());
  double per_layer = n * (4 * d * d + 2 * d * d + 2 * d * f)  // self q,k,v,o; cross q,o; MLP
                     + l * 2 * d * d                           // cross k, v from the text
                     + 2 * n * n * d                           // self QK^T and PV
                     + 2 * n * l * d;                          // cross QK^T and PV
  double outside = n * double(c.in_dim) * pv * d + n * d * double(c.out_dim) * pv  // patch in/out
                   + l * (double(c.text_dim) * d + d * d);                          // text embedding
  return 2.0 * (double(c.num_layers) * per_layer + outside);
}

}  // namespace kinema::bench
