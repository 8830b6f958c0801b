// Where a C2PA manifest store lives in each container, and how it is put there.
// PNG: a caBX chunk after IHDR. JPEG: APP11 "JP" segments after SOI/APP0. MP4: a top-level
// uuid box after ftyp (chunk offsets shifted). Others: a sidecar `<file>.c2pa`.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/c2pa/bytes.hpp"

namespace kinema::c2pa {

enum class Container { png, jpeg, mp4, sidecar };
Container container_of(const std::string& path);  // by magic bytes, else extension

struct FoundStore {
  Bytes store;
  uint64_t start = 0, length = 0;  // the whole container structure holding it (for exclusions)
};

// Builds the store for a given binding; called more than once while sizes settle.
struct HardBinding;
using StoreMaker = std::function<Bytes(const HardBinding&)>;

// PNG / JPEG: the image in memory.
std::optional<FoundStore> png_find_store(const Bytes& png);
Bytes png_strip(const Bytes& png);
Bytes png_embed(const Bytes& png, const StoreMaker& make);
std::optional<FoundStore> jpeg_find_store(const Bytes& jpeg);
Bytes jpeg_strip(const Bytes& jpeg);
Bytes jpeg_embed(const Bytes& jpeg, const StoreMaker& make);
// SHA-256 of data minus [start, start+length) ranges.
Bytes data_hash(const Bytes& data, const std::vector<std::pair<uint64_t, uint64_t>>& exclusions);

// MP4: streamed from and to files (videos can be large).
struct Mp4Box {
  std::string type;
  uint64_t offset = 0, size = 0;
  Bytes uuid;  // extended type for `uuid` boxes
};
std::vector<Mp4Box> mp4_top_boxes(const std::string& path);
bool is_c2pa_uuid(const Mp4Box& b);
std::optional<FoundStore> mp4_find_store(const std::string& path);
// Writes out_path = in_path with any C2PA uuid box removed and, when make is set, a new one
// inserted after ftyp; chunk offsets are shifted to match.
void mp4_rewrite(const std::string& in_path, const std::string& out_path, const StoreMaker* make);
// The bmff v3 hash of a file: u64be(offset) ‖ box for every top-level box that no exclusion
// (xpath "/type", optionally with data matches at offsets) removes.
struct BmffExclusion {
  std::string type;
  std::vector<std::pair<uint64_t, Bytes>> data;  // (offset in box, bytes that must match)
};
Bytes bmff_hash(const std::string& path, const std::vector<BmffExclusion>& exclusions);

}  // namespace kinema::c2pa
