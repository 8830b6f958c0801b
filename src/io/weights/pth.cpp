// load_pth: a PyTorch zip checkpoint to kinema tensors. The plan (pth_plan.cpp) has validated
// every name, view and storage against the archive; here each tensor is read once, straight
// into its own contiguous buffer (views are gathered from the part of the storage they touch).
// f32, f16 and bf16 keep their dtype; f64 becomes f32 (kinema computes in f32 at most).
#include <vector>

#include "io/weights/pth_plan.hpp"
#include "io/weights/zip_reader.hpp"
#include "kinema/error.hpp"
#include "kinema/weights.hpp"

namespace kinema {

TensorFile load_pth(const std::string& path) {
  zip::FileSource source(path);
  uint8_t head[4] = {0, 0, 0, 0};
  if (source.size() >= 4) source.read(0, head, 4);
  if (!zip::looks_like_zip(head, 4)) {
    // torch.save before 1.6 (or _use_new_zipfile_serialization=False) writes a bare pickle
    // stream that starts with a pickled magic number.
    bool legacy = head[0] == 0x80 && head[1] <= 5;
    fail("pth", path, legacy ? ": is a legacy (pre-1.6) torch.save file; kinema reads the zip "
                               "format: re-save it with torch.save in PyTorch 1.6 or later"
                             : ": is not a PyTorch zip checkpoint (no zip header)");
  }
  zip::Archive archive(source);
  pth::Plan plan = pth::make_plan(archive, path);
  TensorFile out;
  out.metadata = std::move(plan.metadata);
  for (const pth::TensorPlan& t : plan.tensors) {
    Shape shape(t.shape.begin(), t.shape.end());
    Tensor dst;
    switch (t.elem) {
      case pth::Elem::f32: dst = Tensor::empty(shape, DType::f32); break;
      case pth::Elem::f16: dst = Tensor::empty(shape, DType::f16); break;
      case pth::Elem::bf16: dst = Tensor::empty(shape, DType::bf16); break;
      case pth::Elem::f64: {
        std::vector<double> wide(size_t(t.numel));
        pth::read_contiguous(archive, t, plan.big_endian, reinterpret_cast<uint8_t*>(wide.data()));
        dst = Tensor::empty(shape, DType::f32);
        float* f = dst.data<float>();
        for (size_t i = 0; i < wide.size(); ++i) f[i] = static_cast<float>(wide[i]);  // nearest
        out.tensors[t.name] = dst;
        continue;
      }
      case pth::Elem::skipped: continue;  // not in the plan's tensors
    }
    pth::read_contiguous(archive, t, plan.big_endian, dst.raw_data());
    out.tensors[t.name] = dst;
  }
  return out;
}

}  // namespace kinema
