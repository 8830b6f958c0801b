// Memory-mapped safetensors: mapped loads equal read loads bit for bit; tensors keep the mapping
// alive, writes to them never reach the file, a file that changes size after its header was
// checked is an Error, and mapping a 1 GiB file costs no resident memory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/mapped_file.hpp"
#include "kinema/error.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {
namespace {
namespace fs = std::filesystem;

fs::path temp(const std::string& name) {
  return fs::temp_directory_path() / ("kinema-mmap-" + std::to_string(::getpid()) + "-" + name);
}

std::string with_header(const std::string& json, const std::string& data) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((json.size() >> (8 * i)) & 0xff);
  return s + json + data;
}

std::string bytes_of(const Tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.raw_data()), t.storage()->nbytes());
}

// Resident memory of this process in KiB (/proc/self/status VmRSS).
int64_t rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

TensorFile random_file(uint64_t seed) {
  std::mt19937 rng{uint32_t(seed)};
  std::normal_distribution<float> n(0.f, 1.f);
  TensorFile f;
  const std::vector<std::pair<Shape, DType>> specs = {{{64, 96}, DType::f32}, {{3}, DType::bf16}, {{5, 7}, DType::f16},
                                                      {{0, 4}, DType::f32},   {{}, DType::f32},   {{33, 65}, DType::bf16}};
  for (size_t i = 0; i < specs.size(); ++i) {
    std::vector<float> v(size_t(shape_numel(specs[i].first)));
    for (float& x : v) x = n(rng);
    f.tensors["t" + std::to_string(i)] = Tensor::from_vector(v, specs[i].first, specs[i].second);
  }
  f.metadata["note"] = "mmap";
  return f;
}

TEST(TensorFileMmap, MappedEqualsReadBitForBit) {
  const fs::path p = temp("eq.safetensors");
  save_tensors(p.string(), random_file(1));
  const TensorFile mapped = load_tensors(p.string());
  const TensorFile read = load_tensors(p.string(), {TensorMemory::read});
  ASSERT_EQ(mapped.tensors.size(), read.tensors.size());
  EXPECT_EQ(mapped.metadata, read.metadata);
  for (const auto& [name, t] : read.tensors) {
    const Tensor& m = mapped.tensors.at(name);
    EXPECT_EQ(m.shape(), t.shape()) << name;
    EXPECT_EQ(m.dtype(), t.dtype()) << name;
    EXPECT_EQ(bytes_of(m), bytes_of(t)) << name;
    EXPECT_TRUE(m.storage()->is_mapped()) << name;  // save_tensors aligns its data section to 8
    EXPECT_FALSE(t.storage()->is_mapped()) << name;
  }
  fs::remove(p);
}

TEST(TensorFileMmap, UnalignedTensorsAreCopied) {
  // A 1-element bf16 tensor first puts the f32 tensor at data offset 2: not 4-aligned, so copied.
  std::string data(2, '\0');
  const float v[3] = {1.5f, -2.f, 3.25f};
  data.append(reinterpret_cast<const char*>(v), sizeof v);
  std::string header = R"({"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},)"
                       R"("b":{"dtype":"F32","shape":[3],"data_offsets":[2,14]}})";
  header.append((8 - header.size() % 8) % 8, ' ');  // data section starts 8-aligned
  const fs::path p = temp("unaligned.safetensors");
  std::ofstream(p, std::ios::binary) << with_header(header, data);
  const TensorFile f = load_tensors(p.string());
  EXPECT_TRUE(f.tensors.at("a").storage()->is_mapped());
  EXPECT_FALSE(f.tensors.at("b").storage()->is_mapped());
  EXPECT_EQ(f.tensors.at("b").to_vector(), (std::vector<float>{1.5f, -2.f, 3.25f}));
  fs::remove(p);
}

TEST(TensorFileMmap, TensorsOutliveTheFileAndWritesStayPrivate) {
  const fs::path p = temp("life.safetensors");
  const TensorFile original = random_file(2);
  save_tensors(p.string(), original);
  Tensor kept;
  {
    TensorFile f = load_tensors(p.string());
    kept = f.tensors.at("t0");
  }
  ASSERT_TRUE(kept.storage()->is_mapped());
  // Writing copies the page: the file keeps its bytes.
  kept.data<float>()[0] = 1234.5f;
  EXPECT_EQ(load_tensors(p.string(), {TensorMemory::read}).tensors.at("t0").to_vector(),
            original.tensors.at("t0").to_vector());
  // save_tensors over the same name replaces the file atomically: the mapping still reads the old one.
  TensorFile other = random_file(3);
  save_tensors(p.string(), other);
  EXPECT_EQ(kept.data<float>()[0], 1234.5f);
  const std::vector<float> was = original.tensors.at("t0").to_vector();
  EXPECT_EQ(std::vector<float>(kept.data<float>() + 1, kept.data<float>() + 64 * 96),
            std::vector<float>(was.begin() + 1, was.end()));
  fs::remove(p);  // an unlinked file stays mapped
  EXPECT_EQ(kept.data<float>()[0], 1234.5f);
}

TEST(TensorFileMmap, AFileThatShrinksAfterItsHeaderWasCheckedIsRefused) {
  const fs::path p = temp("shrink.safetensors");
  save_tensors(p.string(), random_file(4));
  const uint64_t size = fs::file_size(p);
  const ReadOnlyFile file = ReadOnlyFile::open(p.string(), "safetensors");
  EXPECT_EQ(file.size(), size);
  fs::resize_file(p, size / 2);  // truncated after the size every check used was taken
  try {
    file.map();
    ADD_FAILURE() << "mapped a file shorter than its checked size";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("changed while loading"), std::string::npos) << e.what();
  }
  std::vector<char> buf(size);
  try {
    file.read(0, buf.data(), size);
    ADD_FAILURE() << "read past the end";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated while loading"), std::string::npos) << e.what();
  }
  // Loading it now checks the header against the shorter file.
  try {
    load_tensors(p.string());
    ADD_FAILURE() << "loaded a truncated file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of the file"), std::string::npos) << e.what();
  }
  fs::remove(p);
}

TEST(TensorFileMmap, MappingAGibibyteCostsNoResidentMemory) {
  // A sparse 1 GiB f32 tensor file: the header, then a hole (zeros) that costs no disk.
  const uint64_t n = uint64_t(1) << 28, bytes = n * 4;
  std::string header = R"({"w":{"dtype":"F32","shape":[16384,16384],"data_offsets":[0,)" + std::to_string(bytes) + "]}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  const fs::path p = temp("gib.safetensors");
  {
    std::ofstream f(p, std::ios::binary);
    f << with_header(header, "");
  }
  fs::resize_file(p, 8 + header.size() + bytes);
  const int64_t before = rss_kib();
  TensorFile f = load_tensors(p.string());
  const int64_t after = rss_kib();
  ASSERT_TRUE(f.tensors.at("w").storage()->is_mapped());
  EXPECT_EQ(f.tensors.at("w").data<float>()[n - 1], 0.f);  // the last element reads (one page)
  std::printf("  VmRSS %lld KiB before, %lld KiB after mapping 1 GiB\n", (long long)before, (long long)after);
  EXPECT_LT(after - before, 16 * 1024);  // KiB: far below the file's 1 GiB
  fs::remove(p);
}

}  // namespace
}  // namespace kinema
