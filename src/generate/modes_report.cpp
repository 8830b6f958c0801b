// The modes benchmark's report (kinema/modes_scorecard.hpp): DIR/modes.json and the printed
// table. Non-finite values (an unmeasured figure, identical frames' PSNR) are written as null
// and "inf" so the JSON stays valid.
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "kinema/modes_scorecard.hpp"

namespace kinema {
namespace {

nlohmann::json number(double v) {
  if (std::isnan(v)) return nullptr;
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

std::string bar_text(const ModeFigure& f) {
  if (std::isnan(f.bar)) return "-";
  char b[48];
  std::snprintf(b, sizeof b, "%s %g%s", f.at_most ? "<=" : ">=", f.bar, f.unit == "%" ? "%" : "");
  return b;
}

std::string value_text(const ModeFigure& f) {
  if (std::isnan(f.value)) return "-";
  if (std::isinf(f.value)) return "inf";
  char b[48];
  std::snprintf(b, sizeof b, f.unit == "%" ? "%.1f%%" : "%.2f %s", f.value, f.unit == "%" ? "" : f.unit.c_str());
  return b;
}

nlohmann::json figure_json(const ModeFigure& f) {
  nlohmann::json j = {{"id", f.id},       {"mode", f.mode},   {"figure", f.what},         {"unit", f.unit},
                      {"value", number(f.value)}, {"bar", bar_text(f)}, {"count", f.count}, {"count_of", f.count_of}};
  j["pass"] = f.pass ? nlohmann::json(*f.pass) : nlohmann::json(nullptr);
  if (f.within >= 0) j["share_within_bar"] = f.within;
  if (!f.note.empty()) j["note"] = f.note;
  return j;
}

nlohmann::json prompt_json(const PromptMeasures& p) {
  nlohmann::json j = {{"prompt", p.prompt}, {"seed", p.seed}};
  for (const auto& [id, v] : p.values) {
    j["values"][id] = nlohmann::json::array();
    for (double x : v) j["values"][id].push_back(number(x));
  }
  for (const auto& [id, c] : p.counts) j["counts"][id] = {{"pass", c.first}, {"total", c.second}};
  if (!p.edit_prompt.empty()) j["edit_prompt"] = p.edit_prompt;
  if (!p.notes.empty()) j["notes"] = p.notes;
  return j;
}

nlohmann::json long_json(const LongRenderMeasure& r) {
  return {{"video_seconds", r.video_seconds},   {"wall_seconds", r.wall_seconds},
          {"cpu_seconds", r.cpu_seconds},       {"chunks", r.chunks},
          {"chunk_wall_seconds", r.chunk_wall_seconds}, {"chunk_cpu_seconds", r.chunk_cpu_seconds},
          {"peak_rss_bytes", r.peak_rss_bytes}, {"first_chunk_subjects", r.first_chunk_subjects},
          {"drift_subjects", r.drift_subjects}, {"first_to_last_delta_e", number(r.first_to_last_delta_e)}};
}

}  // namespace

std::string modes_scorecard_json(const ModesScorecard& c) {
  nlohmann::json j;
  j["model"] = c.model, j["model_digest"] = c.model_digest, j["date"] = c.date, j["prompts"] = c.prompts;
  j["settings"] = {{"width", c.width},   {"height", c.height},           {"fps", c.fps},
                   {"clip_frames", c.clip_frames}, {"new_frames", c.new_frames}, {"steps", c.steps},
                   {"cfg", c.cfg},       {"edit_strength", c.edit_strength}};
  j["figures"] = nlohmann::json::array();
  for (const ModeFigure& f : c.figures) j["figures"].push_back(figure_json(f));
  j["per_prompt"] = nlohmann::json::array();
  for (const PromptMeasures& p : c.per_prompt) j["per_prompt"].push_back(prompt_json(p));
  for (const LongRenderMeasure& r : c.long_renders) j["long_renders"].push_back(long_json(r));
  if (!c.notes.empty()) j["notes"] = c.notes;
  return j.dump(2) + "\n";
}

std::string modes_scorecard_table(const ModesScorecard& c) {
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "%-16s %-52s %10s %8s %5s  %s\n", "mode", "figure", "value", "bar", "pass", "n");
  out += b;
  for (const ModeFigure& f : c.figures) {
    const char* pass = !f.pass ? "-" : *f.pass ? "yes" : "no";
    std::snprintf(b, sizeof b, "%-16s %-52s %10s %8s %5s  %d %s\n", f.mode.c_str(), f.what.c_str(),
                  value_text(f).c_str(), bar_text(f).c_str(), pass, f.count, f.count_of.c_str());
    out += b;
  }
  return out;
}

std::string modes_scorecard_markdown(const ModesScorecard& c) {
  std::string out = "| mode | figure | value | bar | pass | n |\n|---|---|---|---|---|---|\n";
  for (const ModeFigure& f : c.figures) {
    const char* pass = !f.pass ? "-" : *f.pass ? "yes" : "no";
    out += "| " + f.mode + " | " + f.what + " | " + value_text(f) + " | " + bar_text(f) + " | " + pass + " | " +
           std::to_string(f.count) + " " + f.count_of + " |\n";
  }
  return out;
}

}  // namespace kinema
