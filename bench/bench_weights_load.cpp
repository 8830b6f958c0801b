// Loading weights mapped against read (issue 8, "weights are memory-mapped"): a safetensors file
// of one f32 matrix (1 GiB by default), loaded with TensorMemory::mapped and ::read, each in a
// child process of its own so resident memory is measured cleanly. Reports the load time, the
// growth of VmRSS over the load, and for the mapping also the time to read every element once
// (the page faults a first forward pays). The file is hot in the page cache in both cases.
//   bench_weights_load [--gib X] [--dir DIR]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "kinema/tensor_file.hpp"
#include "in_child.hpp"

namespace {
namespace fs = std::filesystem;
using kinema::bench::now_s;

int64_t rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

// Header, then `rows` rows of 4096 floats of varied values (no holes: real pages on disk).
void write_file(const std::string& path, int64_t rows) {
  const int64_t cols = 4096;
  std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(rows) + "," + std::to_string(cols) +
                       "],\"data_offsets\":[0," + std::to_string(rows * cols * 4) + "]}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f.put(char((n >> (8 * i)) & 0xff));
  f << header;
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) row[size_t(c)] = float((r * 131 + c * 7) % 1000) * 1e-3f;
    f.write(reinterpret_cast<const char*>(row.data()), std::streamsize(cols * 4));
  }
}

struct Result {
  double load_s = 0, touch_s = 0;
  int64_t rss_before = 0, rss_after = 0, rss_touched = 0;
};

// In a child: load, measure, write the result to the pipe.
Result measure(const std::string& path, kinema::TensorMemory memory) {
  return kinema::bench::in_child<Result>([&] {
    Result r;
    r.rss_before = rss_kib();
    const double t0 = now_s();
    kinema::TensorFile f = kinema::load_tensors(path, {memory});
    r.load_s = now_s() - t0;
    r.rss_after = rss_kib();
    const kinema::Tensor& w = f.tensors.at("w");
    const double t1 = now_s();
    double sum = 0;
    const float* p = w.data<float>();
    for (int64_t i = 0; i < w.numel(); ++i) sum += p[i];
    r.touch_s = now_s() - t1;
    r.rss_touched = rss_kib();
    if (sum < 0) std::printf("impossible\n");
    return r;
  });
}

}  // namespace

int main(int argc, char** argv) {
  double gib = 1.0;
  std::string dir = fs::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--gib")) gib = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  const int64_t rows = std::max<int64_t>(1, int64_t(gib * double(1 << 30) / (4096.0 * 4)));
  const std::string path = dir + "/kinema-bench-weights-" + std::to_string(::getpid()) + ".safetensors";
  double t0 = now_s();
  write_file(path, rows);
  std::fprintf(stderr, "wrote %.2f GiB in %.1f s: %s\n", double(rows) * 4096 * 4 / double(1 << 30), now_s() - t0,
               path.c_str());
  const Result m = measure(path, kinema::TensorMemory::mapped);
  const Result r = measure(path, kinema::TensorMemory::read);
  fs::remove(path);
  const double mib = double(rows) * 4096 * 4 / double(1 << 20);
  std::fprintf(stderr, "file %.0f MiB | mapped: load %.4f s, VmRSS +%.1f MiB (after reading every element +%.0f MiB, "
               "%.2f s) | read: load %.3f s, VmRSS +%.0f MiB\n", mib, m.load_s, (m.rss_after - m.rss_before) / 1024.0,
               (m.rss_touched - m.rss_before) / 1024.0, m.touch_s, r.load_s, (r.rss_after - r.rss_before) / 1024.0);
  kinema::bench::report("weights_load", "mapped_load_s", m.load_s, "s", 0);
  kinema::bench::report("weights_load", "read_load_s", r.load_s, "s", 0);
  kinema::bench::report("weights_load", "mapped_rss_mib", (m.rss_after - m.rss_before) / 1024.0, "MiB", 0);
  kinema::bench::report("weights_load", "read_rss_mib", (r.rss_after - r.rss_before) / 1024.0, "MiB", 0);
  kinema::bench::report("weights_load", "mapped_first_touch_s", m.touch_s, "s", 0);
  return (m.rss_after - m.rss_before) * 1024.0 < 0.05 * mib * (1 << 20) ? 0 : 1;  // mapping costs < 5% of the file
}
