// The fuzz_pth input layout, shared by the fuzz target and test_pth's replay of its seeds and
// crashers. The first byte picks the layout:
//   even: the rest is a whole archive;
//   odd:  the rest is data.pkl, wrapped here in an archive with storages data/0 (20 bytes) and
//         data/1..3 (64 bytes), so mutations reach the unpickler without keeping a zip intact.
// It runs the zip reader, the restricted unpickler, the planner (views, storages, flattening)
// and the strided gather on memory; no tensor engine.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/weights/pth_plan.hpp"
#include "io/weights/zip_reader.hpp"
#include "kinema/error.hpp"

namespace kinema::test {

inline void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// A stored zip (no CRCs: kinema does not check them) holding the given entries.
inline std::vector<uint8_t> make_zip(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
  std::vector<uint8_t> out, central;
  for (const auto& [name, data] : entries) {
    uint64_t local = out.size();
    put(out, 0x04034b50, 4), put(out, 20, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0, 4);
    put(out, 0, 4), put(out, data.size(), 4), put(out, data.size(), 4);
    put(out, name.size(), 2), put(out, 0, 2);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), data.begin(), data.end());
    put(central, 0x02014b50, 4), put(central, 20, 2), put(central, 20, 2), put(central, 0, 2);
    put(central, 0, 2), put(central, 0, 4), put(central, 0, 4), put(central, data.size(), 4);
    put(central, data.size(), 4), put(central, name.size(), 2), put(central, 0, 2);
    put(central, 0, 2), put(central, 0, 2), put(central, 0, 2), put(central, 0, 4);
    put(central, local, 4);
    central.insert(central.end(), name.begin(), name.end());
  }
  uint64_t cd = out.size();
  out.insert(out.end(), central.begin(), central.end());
  put(out, 0x06054b50, 4), put(out, 0, 4), put(out, entries.size(), 2), put(out, entries.size(), 2);
  put(out, central.size(), 4), put(out, cd, 4), put(out, 0, 2);
  return out;
}

// One fuzz input, as fuzz_pth runs it: an Error is fine, anything else is a bug.
inline void run_pth_fuzz_input(const uint8_t* data, size_t size) {
  if (size < 1) return;
  std::vector<uint8_t> bytes;
  if (data[0] & 1) {
    std::vector<std::pair<std::string, std::vector<uint8_t>>> entries;
    entries.push_back({"archive/data.pkl", std::vector<uint8_t>(data + 1, data + size)});
    for (int k = 0; k < 4; ++k) entries.push_back({"archive/data/" + std::to_string(k), std::vector<uint8_t>(k ? 64 : 20, uint8_t(k))});
    bytes = make_zip(entries);
  } else {
    bytes.assign(data + 1, data + size);
  }
  try {
    kinema::zip::MemorySource source(bytes.data(), bytes.size(), "fuzz.pth");
    kinema::zip::Archive archive(source);
    kinema::pth::PlanLimits limits;
    limits.max_repeat_elems = 1 << 20;  // keep each run small; the limit itself is under test
    kinema::pth::Plan plan = kinema::pth::make_plan(archive, "fuzz.pth", limits);
    for (const auto& t : plan.tensors) {
      std::vector<uint8_t> dst(size_t(t.numel) * size_t(t.elem_size));
      kinema::pth::read_contiguous(archive, t, plan.big_endian, dst.data());
    }
  } catch (const kinema::Error&) {
  }
}

}  // namespace kinema::test
