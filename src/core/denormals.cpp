#include "core/denormals.hpp"

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kinema {
namespace {

#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kFtzDaz = 0x8040;  // MXCSR bit 15 (flush to zero) | bit 6 (denormals are zero)
void set_flush_bits() { _mm_setcsr(_mm_getcsr() | kFtzDaz); }
bool flush_bits_set() { return (_mm_getcsr() & kFtzDaz) == kFtzDaz; }
#elif defined(__aarch64__)
constexpr unsigned long kFz = 1ul << 24;  // FPCR.FZ flushes inputs and outputs
void set_flush_bits() {
  unsigned long fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  __asm__ volatile("msr fpcr, %0" : : "r"(fpcr | kFz));
}
bool flush_bits_set() {
  unsigned long fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return (fpcr & kFz) != 0;
}
#else
void set_flush_bits() {}
bool flush_bits_set() { return false; }
#endif

thread_local bool t_flushed = false;
thread_local int t_team_flushed = 0;

}  // namespace

void flush_denormals_on_this_thread() {
  if (t_flushed) return;
  set_flush_bits();
  t_flushed = true;
}

void flush_denormals_in_team(int threads) {
  flush_denormals_on_this_thread();
  if (threads <= t_team_flushed) return;
#pragma omp parallel num_threads(threads)
  flush_denormals_on_this_thread();
  t_team_flushed = threads;
}

bool denormals_flushed_on_this_thread() { return flush_bits_set(); }

}  // namespace kinema
