// libFuzzer targets for everything kinema reads from untrusted files.
//   KINEMA_FUZZ_TARGET=reader : read_video on the bytes (any container/codec libav detects)
//   KINEMA_FUZZ_TARGET=c2pa   : verify_file on the bytes as PNG/JPEG/MP4/sidecar (first byte picks)
// Build and run: see docs/media.md ("Fuzzing").
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"

namespace {

std::string scratch_path(const char* ext) {
  static const std::string base = "/tmp/kinema_fuzz_" + std::to_string(::getpid());
  return base + ext;
}

void write_all(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
#if defined(KINEMA_FUZZ_C2PA)
  if (size < 1) return 0;
  static const char* kExt[] = {".png", ".jpg", ".mp4", ".webm"};
  std::string path = scratch_path(kExt[data[0] % 4]);
  write_all(path, data + 1, size - 1);
  if (data[0] % 4 == 3) write_all(kinema::sidecar_path(path), data + 1, size - 1);
  try {
    kinema::verify_file(path, {"/tmp/kinema_fuzz_config"});
  } catch (const kinema::Error&) {
  }
  ::unlink(kinema::sidecar_path(path).c_str());
#else
  std::string path = scratch_path(".bin");
  write_all(path, data, size);
  kinema::VideoReadOptions o;
  o.max_pixels = 1 << 20;  // keep each run small; the limits themselves are under test
  o.max_frames = 64;
  o.timeout_s = 5;
  try {
    kinema::read_video(path, o);
  } catch (const kinema::Error&) {
  }
#endif
  ::unlink(path.c_str());
  return 0;
}
