// Denormal floats (|x| < 1.2e-38) cost a microcode assist on x86: an FMA that meets one runs
// ~100x slower. Backward passes make them (the default model's text-encoder gradients: its
// GEMMs ran at 3 GFLOP/s instead of 80 and a training step took 5.7 s instead of 1.6 s), so
// every thread that runs kernels flushes them to zero (FTZ and DAZ), as TensorFlow does by
// default and PyTorch's set_flush_denormal(True) does. A flushed value is below anything a
// bf16 or f32 model can tell from zero.
#pragma once

namespace kinema {

// Sets flush-to-zero and denormals-are-zero on the calling thread (once per thread).
void flush_denormals_on_this_thread();

// The same on the calling thread and on every thread of its OpenMP team of `threads` (oneDNN
// runs its kernels on that team); done once per thread and team size.
void flush_denormals_in_team(int threads);

// Whether the calling thread flushes denormals (tests).
bool denormals_flushed_on_this_thread();

}  // namespace kinema
