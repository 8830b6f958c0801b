// libFuzzer target for PyTorch zip checkpoints: the zip reader, the restricted unpickler, the
// planner and the strided gather on arbitrary bytes (layout: pth_fuzz_input.hpp). It compiles
// only src/io/weights/{zip_reader,pickle,pth_plan}.cpp: no tensor engine.
// Build and run: see docs/weights.md ("Tests and fuzzing of the checkpoint readers").
#include "pth_fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kinema::test::run_pth_fuzz_input(data, size);
  return 0;
}
