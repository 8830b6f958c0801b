// Progress bar on stderr and the CSV log next to the checkpoints.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kinema/error.hpp"
#include "kinema/train.hpp"

namespace kinema {

ProgressBar::ProgressBar(int64_t first, int64_t total) : first_(first), total_(total) {}

void ProgressBar::update(const StepStats& s) {
  elapsed_ += s.seconds;
  const int64_t done = s.step - first_, left = total_ - s.step;
  const double rate = elapsed_ > 0 ? double(done) / elapsed_ : 0;
  const long eta = rate > 0 ? long(double(left) / rate + 0.5) : 0;
  constexpr int kWidth = 24;
  const int filled = total_ > 0 ? int(kWidth * s.step / total_) : kWidth;
  std::string bar(size_t(filled), '#');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\rstep %lld/%lld [%s] %.2f it/s loss %.4f lr %.2e ETA %ld:%02ld   ",
               static_cast<long long>(s.step), static_cast<long long>(total_), bar.c_str(), rate,
               s.loss, s.lr, eta / 60, eta % 60);
  std::fflush(stderr);
}

void ProgressBar::finish() { std::fprintf(stderr, "\n"); }

CsvLog::CsvLog(const std::string& path, int64_t keep_until_step) : path_(path) {
  // Keep the rows of steps the checkpoint holds; the rest are redone by the resumed run.
  std::vector<std::string> keep;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line.rfind("step,", 0) == 0) continue;
      if (std::stoll(line.substr(0, line.find(','))) <= keep_until_step) keep.push_back(line);
    }
  }
  std::ofstream out(path, std::ios::trunc);
  check(out.good(), "CsvLog", "cannot write ", path);
  out << "step,loss,lr,grad_norm,seconds\n";
  for (const std::string& l : keep) out << l << "\n";
}

void CsvLog::write(const StepStats& s) {
  std::ofstream out(path_, std::ios::app);
  check(out.good(), "CsvLog", "cannot append to ", path_);
  char line[160];
  std::snprintf(line, sizeof line, "%lld,%.9g,%.9g,%.9g,%.6f\n", static_cast<long long>(s.step),
                double(s.loss), double(s.lr), double(s.grad_norm), s.seconds);
  out << line;
}

}  // namespace kinema
