// The 60 s check of the modes benchmark (kinema/modes_scorecard.hpp): one long render in chunks
// streamed into the continuity meter (never held), its peak resident memory, compute time per
// chunk, and the colour drift of subjects from the first chunk to the last.
#include <malloc.h>

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
  using Clock = std::chrono::steady_clock;
  GenerateRequest r = base;
  r.fps = r.fps > 0 ? r.fps : pipe.manifest().fps;
  r.frames = 1 + 4 * std::max(1, int(std::lround(seconds * r.fps / 4)));
  SubjectOptions so;
  so.stride = std::max(1, r.frames / 240);  // ~240 detections, as continuity_scorecard samples
  ContinuityMeter meter(so);
  std::vector<double> chunk_seconds;
  ModeOptions o = mode;
  reset_peak_rss();
  const auto t0 = Clock::now();
  auto last = t0;
  o.chunk_done = [&](int) {
    const auto now = Clock::now();
    chunk_seconds.push_back(std::chrono::duration<double>(now - last).count());
    last = now;
  };
  const ModeResult m = generate_long(pipe, r, o, [&](const Frame& f) { meter.add(f); });
  LongRenderMeasure out;
  out.compute_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  out.peak_rss_bytes = peak_rss_bytes();
  out.video_seconds = double(r.frames) / r.fps, out.chunks = m.chunks;
  // The first chunk makes a whole clip and the last may be short: the chunks between are alike.
  if (chunk_seconds.size() > 2) chunk_seconds = {chunk_seconds.begin() + 1, chunk_seconds.end() - 1};
  out.median_chunk_seconds = median_of(chunk_seconds);
  const ContinuityScorecard card = meter.finish(m.seams, "long", false);
  std::tie(out.first_to_last_delta_e, out.drift_subjects) = first_to_last_drift(card.subjects, m.seams);
  return out;
}

}  // namespace kinema
