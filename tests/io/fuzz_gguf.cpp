// libFuzzer target for load_gguf (issue 8): any bytes load or throw kinema::Error; never a
// crash, a sanitizer report, or an allocation beyond what the file's size justifies.
// Build and run: see docs/weights.md ("Fuzzing").
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "kinema/error.hpp"
#include "kinema/weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/kinema_fuzz_gguf_" + std::to_string(::getpid()) + ".gguf";
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  // Both dequantization targets: the last byte picks, so the fuzzer explores each.
  kinema::WeightLoadOptions o;
  o.dequantize_to = size && (data[size - 1] & 1) ? kinema::DType::f32 : kinema::DType::bf16;
  try {
    kinema::load_gguf(path, o);
  } catch (const kinema::Error&) {
  }
  ::unlink(path.c_str());
  return 0;
}
