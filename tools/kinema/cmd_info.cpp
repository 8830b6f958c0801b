#include <cstdio>
#include <cstring>

#include "backend/cpu/dnnl_plans.hpp"
#include "backend/cpu/kernels.hpp"
#include "commands.hpp"
#include "kinema/context.hpp"

namespace kinema::cli {

int cmd_info(int argc, char** argv) {
  if (argc > 1 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::printf("usage: kinema info\n\nPrints the engine's version, the threads it will use and the\n"
                "CPU features its kernels dispatch on.\n");
    return 0;
  }
  std::printf("kinema 0.1.0\n");
  std::printf("threads:        %d (set OMP_NUM_THREADS to change)\n", current_context().threads());
  std::printf("SIMD targets:  ");
  int64_t targets = simd_targets_available();
  for (int64_t bit = 1; bit != 0 && bit <= targets; bit <<= 1)
    if (targets & bit) std::printf(" %s", simd_target_name(bit));
  std::printf("\nbf16 compute:   %s\n", cpu_has_bf16_dot() ? "native (AVX512_BF16/AMX)"
                                                           : "through f32 (no bf16 dot products)");
  return 0;
}

}  // namespace kinema::cli
