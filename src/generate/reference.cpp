// Reference frames in front (docs/conditioning.md: characters and shot continuity use the time
// axis as context). The reference (1 + 4a frames: whole latent frames 0..a) is given before the
// clip, its last frame held for 3 more frames, so the clip's frame 0 ends latent frame a + 1 and
// every later latent frame of the clip covers the same 4 frames it would alone: the mask
// patterns the modes build (first k, last k, ...) stay aligned. The outputs in front are dropped.
#include <algorithm>

#include "generate/internal.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema::detail {

GenerateResult generate_with_reference(const Pipeline& pipe, const GenerateRequest& request,
                                       const std::function<void(const GenerateProgress&)>& progress) {
  const int R = int(request.reference.size()), tc = int(pipe.vae().config().temporal_compression());
  check((R - 1) % tc == 0, "reference", "a reference has 1 + ", tc, "k frames; got ", R);
  check(request.edit.empty(), "reference",
        "a reference in front cannot be combined with an edit (SDEdit starts from the input's own latent)");
  GenerateRequest r = request;
  r.reference.clear();
  const GenerateRequest sized = pipe.resolve(r);  // the clip's own size and length
  r.width = sized.width, r.height = sized.height;
  const int F = sized.frames, lead = R + tc - 1;  // lead = tc(a + 1) frames in front
  std::vector<KnownFrame> known;
  for (int i = 0; i < lead; ++i) {
    const Frame& f = request.reference[size_t(std::min(i, R - 1))];
    check(f.width == r.width && f.height == r.height, "reference", "reference frame ", std::min(i, R - 1), " is ",
          f.width, "x", f.height, "; the clip is ", r.width, "x", r.height,
          " (read it with ResizeMode::crop at the clip's size)");
    known.push_back({i, f});
  }
  for (const KnownFrame& k : request.known) {
    check(k.index >= 0 && k.index < F, "reference", "given frame ", k.index, " is outside the clip (0..", F - 1, ")");
    known.push_back({k.index + lead, k.frame});
  }
  r.frames = lead + F;
  r.known = std::move(known);
  GenerateResult g = pipe.generate(r, progress);
  g.frames.erase(g.frames.begin(), g.frames.begin() + lead);
  if (g.latent.defined()) {  // [1, C, a + 1 + T', h, w] -> the clip's own T' latent frames
    const int64_t T = g.latent.shape()[2];
    g.latent = contiguous(slice(g.latent, 2, T - (1 + (F - 1) / tc), T));
  }
  return g;
}

}  // namespace kinema::detail
