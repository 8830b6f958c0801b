// The modes benchmark's figures (kinema/modes_scorecard.hpp): one table of what each figure is
// and its bar (issue 10's "Measured"), and the aggregation of per-prompt measures into figures:
// shares pool every observation; ratios, PSNR and pixel distances are medians.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kinema/modes_scorecard.hpp"

namespace kinema {
namespace {

struct FigureSpec {
  const char *id, *mode, *what, *unit;
  double bar;
  bool at_most, pooled;
  const char* count_of;
};

const std::vector<FigureSpec>& prompt_figures() {
  static const std::vector<FigureSpec> t = {
      {"i2v.psnr", "image-to-video", "frame 0 PSNR against the given image", "dB", 30, false, false, "prompts"},
      {"i2v.motion", "image-to-video", "motion claims of the prompt passed", "%", 80, false, true, "claims"},
      {"extend_forward.identity", "extend forward", "subjects found after each seam", "%", 90, false, true,
       "subjects"},
      {"extend_forward.seam", "extend forward", "seam change / median change", "x", 1.5, true, false, "seams"},
      {"extend_backward.identity", "extend backward", "input subjects found in the new frames", "%", 90, false, true,
       "subjects"},
      {"extend_backward.seam", "extend backward", "seam change / median change", "x", 1.5, true, false, "seams"},
      {"join.identity", "join", "subjects found after each seam", "%", 90, false, true, "subjects"},
      {"join.seam", "join", "seam change / median change", "x", 1.5, true, false, "seams"},
      {"loop.closure", "loop", "closure (last -> first) / median change", "x", 1.5, true, false, "loops"},
      {"multishot.identity", "multi-shot", "subjects kept across the cut to a close-up", "%", 90, false, true,
       "subjects"},
      {"character.identity", "characters", "reference subjects found in the new clip", "%", 90, false, true,
       "subjects"},
      {"edit.changed", "edit", "recoloured object shows the new colour, not the old", "%", 80, false, true,
       "edits"},
      {"edit.tracks", "edit", "motion tracks: median distance to the input's", "px", 4, true, false, "prompts"},
  };
  return t;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

bool meets(double v, double bar, bool at_most) { return at_most ? v <= bar : v >= bar; }

ModeFigure figure_of(const FigureSpec& s) {
  ModeFigure f;
  f.id = s.id, f.mode = s.mode, f.what = s.what, f.unit = s.unit, f.bar = s.bar, f.at_most = s.at_most;
  f.count_of = s.count_of, f.value = NAN;
  return f;
}

// Pooled: pass / total over every prompt, in percent.
void pool(ModeFigure& f, const std::vector<PromptMeasures>& prompts) {
  int pass = 0, total = 0;
  for (const PromptMeasures& p : prompts)
    if (auto it = p.counts.find(f.id); it != p.counts.end()) pass += it->second.first, total += it->second.second;
  f.count = total;
  if (total > 0) f.value = 100.0 * pass / total, f.pass = meets(f.value, f.bar, f.at_most);
}

// Median of every value (one per prompt, or per seam), and the share meeting the bar alone.
void take_median(ModeFigure& f, const std::vector<PromptMeasures>& prompts) {
  std::vector<double> all;
  for (const PromptMeasures& p : prompts)
    if (auto it = p.values.find(f.id); it != p.values.end())
      for (double v : it->second)
        if (!std::isnan(v)) all.push_back(v);
  f.count = int(all.size());
  if (all.empty()) return;
  f.value = median(all);
  f.within = double(std::count_if(all.begin(), all.end(), [&](double v) { return meets(v, f.bar, f.at_most); })) /
             double(all.size());
  f.pass = meets(f.value, f.bar, f.at_most);
}

}  // namespace

std::vector<ModeFigure> aggregate_mode_figures(const std::vector<PromptMeasures>& prompts) {
  std::vector<ModeFigure> out;
  for (const FigureSpec& s : prompt_figures()) {
    ModeFigure f = figure_of(s);
    s.pooled ? pool(f, prompts) : take_median(f, prompts);
    if (f.count == 0) f.note = "nothing measured";
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<ModeFigure> long_render_figures(const LongRenderMeasure* s, const LongRenderMeasure* l,
                                            const std::string& note) {
  const std::vector<FigureSpec> specs = {
      {"long.memory", "60 s", "peak memory / the short render's", "x", 1.10, true, false, "renders"},
      {"long.linear", "60 s", "median chunk CPU time / the short render's", "x", 1.10, true, false, "renders"},
      {"long.rate", "60 s", "seconds of compute (wall) per second of video", "s/s", NAN, true, false, "renders"},
      {"long.drift", "60 s", "colour drift of subjects, first to last chunk", "dE", 5, true, false, "subjects"},
  };
  std::vector<ModeFigure> out;
  for (const FigureSpec& spec : specs) out.push_back(figure_of(spec));
  if (!s || !l) {
    for (ModeFigure& f : out) f.note = note;
    return out;
  }
  auto set = [](ModeFigure& f, double v, int count) {
    f.value = v, f.count = count;
    if (!std::isnan(v) && !std::isnan(f.bar)) f.pass = meets(v, f.bar, f.at_most);
  };
  char b[200];
  set(out[0], double(l->peak_rss_bytes) / double(std::max<int64_t>(1, s->peak_rss_bytes)), 2);
  std::snprintf(b, sizeof b, "peak RSS %.0f MiB (%.0f s) vs %.0f MiB (%.0f s)", l->peak_rss_bytes / 1048576.0,
                l->video_seconds, s->peak_rss_bytes / 1048576.0, s->video_seconds);
  out[0].note = b;
  // Linear in length: a chunk costs the same however many came before (CPU time: the wall time
  // of a shared machine follows the other work's load).
  set(out[1], l->median_chunk_cpu / s->median_chunk_cpu, 2);
  std::snprintf(b, sizeof b, "median chunk CPU %.2f s (%d chunks) vs %.2f s (%d chunks); wall %.2f s vs %.2f s",
                l->median_chunk_cpu, l->chunks, s->median_chunk_cpu, s->chunks, l->median_chunk_wall,
                s->median_chunk_wall);
  out[1].note = b;
  set(out[2], l->wall_seconds / l->video_seconds, 1);
  std::snprintf(b, sizeof b, "wall %.0f s (CPU %.0f s) for %.0f s of video; the short render: %.2f s/s wall",
                l->wall_seconds, l->cpu_seconds, l->video_seconds, s->wall_seconds / s->video_seconds);
  out[2].note = b;
  set(out[3], l->drift_subjects > 0 ? l->first_to_last_delta_e : NAN, l->drift_subjects);
  std::snprintf(b, sizeof b, "%d subject(s) in the first chunk, %d tracked to the last", l->first_chunk_subjects,
                l->drift_subjects);
  out[3].note = b;
  return out;
}

}  // namespace kinema
