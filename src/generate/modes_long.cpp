// The 60 s check of the modes benchmark (kinema/modes_scorecard.hpp): one long render in chunks
// streamed into the continuity meter (never held), its peak resident memory, wall and CPU time
// per chunk, and the colour drift of subjects from the first chunk to the last.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <tuple>

#include "kinema/error.hpp"
#include "kinema/modes_scorecard.hpp"

namespace kinema {
namespace {

// Linux keeps the peak resident set (VmHWM) per process; writing 5 to clear_refs resets it to
// the current resident set, so consecutive renders in one process each get their own peak.
// Memory the allocator keeps after the last render is given back first, so it is not counted.
void reset_peak_rss() {
  ::malloc_trim(0);
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.close();
  check(bool(f), "modes scorecard", "cannot reset the peak memory counter (/proc/self/clear_refs); ",
        "the 60 s check needs Linux 4.0+ with a writable /proc");
}

int64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:   1234 kB"
  fail("modes scorecard", "no VmHWM in /proc/self/status; the 60 s check needs Linux");
}

// Wall and process CPU time (every thread) since construction.
class Stopwatch {
 public:
  double wall() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count(); }
  double cpu() const { return cpu_now() - cpu_; }

 private:
  static double cpu_now() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  std::chrono::steady_clock::time_point wall_ = std::chrono::steady_clock::now();
  double cpu_ = cpu_now();
};

// The first chunk makes a whole clip and the last may be short: the chunks between are alike.
std::vector<double> middle(const std::vector<double>& v) {
  return v.size() > 2 ? std::vector<double>(v.begin() + 1, v.end() - 1) : v;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

std::pair<double, int> first_to_last_drift(const SubjectReport& report, const std::vector<int>& seams) {
  if (seams.empty()) return {0.0, 0};
  const int first_end = *std::min_element(seams.begin(), seams.end());
  const int last_start = *std::max_element(seams.begin(), seams.end());
  double worst = 0;
  int n = 0;
  for (const SubjectDrift& d : report.subjects)
    if (d.first_frame < first_end && d.last_frame >= last_start) worst = std::max(worst, d.delta_e), ++n;
  return {worst, n};
}

LongRenderMeasure measure_long_render(const Pipeline& pipe, const GenerateRequest& base, double seconds,
                                      const ModeOptions& mode) {
  GenerateRequest r = base;
  r.fps = r.fps > 0 ? r.fps : pipe.manifest().fps;
  r.frames = 1 + 4 * std::max(1, int(std::lround(seconds * r.fps / 4)));
  SubjectOptions so;
  so.stride = std::max(1, r.frames / 240);  // ~240 detections, as continuity_scorecard samples
  ContinuityMeter meter(so);
  LongRenderMeasure out;
  ModeOptions o = mode;
  reset_peak_rss();
  const Stopwatch start;
  Stopwatch chunk;
  o.chunk_done = [&](int) {
    out.chunk_wall_seconds.push_back(chunk.wall()), out.chunk_cpu_seconds.push_back(chunk.cpu());
    chunk = Stopwatch();
  };
  const ModeResult m = generate_long(pipe, r, o, [&](const Frame& f) { meter.add(f); });
  out.wall_seconds = start.wall(), out.cpu_seconds = start.cpu();
  out.peak_rss_bytes = peak_rss_bytes();
  out.video_seconds = double(r.frames) / r.fps, out.chunks = m.chunks;
  out.median_chunk_wall = median_of(middle(out.chunk_wall_seconds));
  out.median_chunk_cpu = median_of(middle(out.chunk_cpu_seconds));
  const ContinuityScorecard card = meter.finish(m.seams, "long", false);
  std::tie(out.first_to_last_delta_e, out.drift_subjects) = first_to_last_drift(card.subjects, m.seams);
  for (const SubjectDrift& d : card.subjects.subjects)
    out.first_chunk_subjects += !m.seams.empty() && d.first_frame < m.seams.front();
  return out;
}

}  // namespace kinema
