#include "denoise_trace.hpp"

#include <algorithm>
#include <cstdio>

#include "kinema/error.hpp"

namespace kinema::cli {

DenoiseTrace::DenoiseTrace(const Pipeline& pipe, std::string path, int every)
    : pipe_(pipe), path_(std::move(path)), every_(every) {
  check(every >= 0, "generate", "--trace-every must be 0 (about 10 rows) or a step count; got ", every);
  check(format_from_path(path_) == VideoFormat::png, "generate", "--trace writes a .png; got '", path_, "'");
}

void DenoiseTrace::add(const GenerateProgress& p) {
  if (!p.denoised || p.steps <= 0) return;
  const int every = every_ > 0 ? every_ : std::max(1, (p.steps + 9) / 10);
  if (p.step % every != 0 && p.step != 1 && p.step != p.steps) return;
  rows_.push_back(contact_sheet(pipe_.decode_frames(*p.denoised), 8));
  sigmas_.push_back(p.sigma);
}

void DenoiseTrace::write() const {
  check(!rows_.empty(), "generate", "--trace: the sampler reported no steps to draw");
  write_image(path_, stack_rows(rows_));
  std::string levels;
  for (float s : sigmas_) levels += (levels.empty() ? "" : " ") + std::to_string(s).substr(0, 5);
  std::fprintf(stderr, "trace %s: %zu rows of x0 estimates, from noise levels %s\n", path_.c_str(), rows_.size(),
               levels.c_str());
}

}  // namespace kinema::cli
