// sign_file / strip_credentials: picks the container and embeds (or writes a sidecar).
#include <filesystem>
#include <fstream>

#include "io/c2pa/containers.hpp"
#include "io/c2pa/manifest.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"

namespace kinema {
namespace fs = std::filesystem;
using namespace c2pa;

namespace c2pa {
Container container_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  uint8_t m[12] = {};
  f.read(reinterpret_cast<char*>(m), 12);
  if (f.gcount() >= 8 && m[0] == 0x89 && m[1] == 'P' && m[2] == 'N' && m[3] == 'G') return Container::png;
  if (f.gcount() >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) return Container::jpeg;
  if (f.gcount() >= 8 && std::string(reinterpret_cast<char*>(m + 4), 4) == "ftyp") return Container::mp4;
  return Container::sidecar;
}
}  // namespace c2pa

std::string sidecar_path(const std::string& path) { return path + ".c2pa"; }

void sign_file(const std::string& path, const Provenance& provenance) {
  std::error_code ec;
  check(fs::is_regular_file(path, ec), "sign_file", "'", path, "' is not a file");
  Signer signer = load_signer(provenance.signer);
  ManifestPlan plan = make_plan(provenance, signer, path);
  StoreMaker make = [&](const HardBinding& b) { return build_store(plan, b); };
  switch (container_of(path)) {
    case Container::png:
      write_file_atomic(path, png_embed(read_file(path, "sign_file"), make), "sign_file");
      break;
    case Container::jpeg:
      write_file_atomic(path, jpeg_embed(read_file(path, "sign_file"), make), "sign_file");
      break;
    case Container::mp4:
      mp4_rewrite(path, path, &make);
      break;
    case Container::sidecar: {
      // WebM, GIF and others: C2PA cannot embed, so the manifest binds the whole file by hash.
      HardBinding b;
      b.kind = HardBinding::Kind::data;
      b.hash = sha256(read_file(path, "sign_file"));
      write_file_atomic(sidecar_path(path), make(b), "sign_file");
      break;
    }
  }
}

bool strip_credentials(const std::string& path) {
  switch (container_of(path)) {
    case Container::png: {
      Bytes b = read_file(path, "strip_credentials");
      if (!png_find_store(b)) return false;
      write_file_atomic(path, png_strip(b), "strip_credentials");
      return true;
    }
    case Container::jpeg: {
      Bytes b = read_file(path, "strip_credentials");
      if (!jpeg_find_store(b)) return false;
      write_file_atomic(path, jpeg_strip(b), "strip_credentials");
      return true;
    }
    case Container::mp4:
      if (!mp4_find_store(path)) return false;
      mp4_rewrite(path, path, nullptr);
      return true;
    case Container::sidecar: {
      std::error_code ec;
      return fs::remove(sidecar_path(path), ec);
    }
  }
  return false;
}

}  // namespace kinema
