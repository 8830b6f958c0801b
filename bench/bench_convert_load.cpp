// Peak memory of `kinema generate --type q8_0`'s load (issue 8: the smoke run's q8_0 peak RSS
// was 10 GB against sd.cpp's 3.6 GB): a Wan2.1-T2V-1.3B-shaped random DiT (30 layers, bf16,
// 2.8 GB) written as safetensors to --dir (default /tmp, deleted afterwards), then loaded
// memory-mapped in a child process per case, each reporting getrusage's ru_maxrss:
//   read        load, read every byte once (what bf16 inference keeps resident)
//   q8_0 kept   load, convert tensor by tensor but keep the mapped sources' pages (what
//               convert_weights did before: the mapping stays resident until the last tensor)
//   q8_0        convert_weights now (each source's pages dropped once converted)
//   q4_0        the same to q4_0
// Not timed for comparison (the page cache and a shared machine decide the seconds).
//   bench_convert_load [--dir DIR] [--layers N]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "kinema/dit.hpp"
#include "kinema/weights.hpp"
#include "in_child.hpp"

using namespace kinema;
using namespace kinema::bench;

namespace {

void write_dit(const std::string& path, const DiTConfig& c) {
  const auto shapes = dit_parameter_shapes(c);
  std::string header = "{";
  uint64_t off = 0;
  for (const auto& [name, shape] : shapes) {
    const uint64_t bytes = uint64_t(shape_numel(shape)) * 2;
    header += (header.size() > 1 ? "," : "") + std::string("\"") + name + "\":{\"dtype\":\"BF16\",\"shape\":[";
    for (size_t i = 0; i < shape.size(); ++i) header += (i ? "," : "") + std::to_string(shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + bytes) + "]}";
    off += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f.put(char((n >> (8 * i)) & 0xff));
  f << header;
  std::vector<uint16_t> buf(1 << 20);
  uint64_t x = 88172645463325252ULL;
  for (const auto& [name, shape] : shapes) {
    for (int64_t left = shape_numel(shape); left > 0;) {
      const int64_t m = std::min<int64_t>(left, int64_t(buf.size()));
      for (int64_t i = 0; i < m; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const float v = (float(x >> 40) / float(1 << 24) - 0.5f) * 0.05f;
        buf[size_t(i)] = f32_to_bf16(v).bits;
      }
      f.write(reinterpret_cast<const char*>(buf.data()), std::streamsize(m * 2));
      left -= m;
    }
  }
}

struct Result {
  double seconds = 0, max_rss_gb = 0;
};

template <typename F>
Result measured(F work) {
  return bench::in_child<Result>([&] {
    Result r;
    const double t0 = now_s();
    work();
    r.seconds = now_s() - t0, r.max_rss_gb = bench::peak_rss_gib();
    return r;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp";
  DiTConfig c;  // Wan2.1-T2V-1.3B
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir")) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--layers")) c.num_layers = std::stoll(argv[++i]);
  }
  const std::string path = dir + "/kinema_bench_convert_load_" + std::to_string(::getpid()) + ".safetensors";
  double t0 = now_s();
  write_dit(path, c);
  const double gb = double(std::filesystem::file_size(path)) / 1e9;
  std::fprintf(stderr, "wrote %s: %.2f GB in %.1f s\n", path.c_str(), gb, now_s() - t0);
  report("convert_load", "file size (bf16 DiT)", gb, "GB", 0);

  volatile uint64_t sink = 0;
  const Result read = measured([&] {
    TensorFile f = load_weights(path);
    uint64_t s = 0;
    for (const auto& [name, t] : f.tensors) {
      const uint8_t* p = static_cast<const uint8_t*>(t.raw_data());
      for (size_t i = 0; i < t.storage()->nbytes(); i += 4096) s += p[i];
    }
    sink = s;
  });
  const Result kept = measured([&] {
    TensorFile f = load_weights(path);
    TensorFile out;
    for (const auto& [name, t] : f.tensors) out.tensors[name] = convert_weight(t, DType::q8_0);
  });
  const Result q8 = measured([&] { TensorFile f = convert_weights(load_weights(path), DType::q8_0); });
  const Result q4 = measured([&] { TensorFile f = convert_weights(load_weights(path), DType::q4_0); });
  std::filesystem::remove(path);
  for (auto [name, r] : {std::pair{"load, read every byte", read}, std::pair{"load + q8_0, sources kept (before)", kept},
                         std::pair{"load + q8_0 (convert_weights)", q8}, std::pair{"load + q4_0 (convert_weights)", q4}}) {
    report("convert_load", std::string(name) + " peak RSS", r.max_rss_gb, "GB", 0);
    std::fprintf(stderr, "%-40s peak RSS %.2f GB  (%.1f s)\n", name, r.max_rss_gb, r.seconds);
  }
  return 0;
}
