// `kinema convert IN OUT.gguf [--type T]`: safetensors or GGUF in, GGUF out, with the matrices
// quantized (issue 8). See docs/weights.md.
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"
#include "option_table.hpp"

namespace kinema::cli {
namespace {

struct ConvertCli {
  std::string type = "q8_0";
};

const std::vector<Option<ConvertCli>>& options() {
  static const std::vector<Option<ConvertCli>> table = {
      {"--type", "T", "what matrices become: q8_0, q4_0, bf16, f16 or f32", KINEMA_OPT_STRING(type)},
  };
  return table;
}

void usage() {
  std::printf(
      "usage: kinema convert IN OUT.gguf [--type q8_0|q4_0|bf16|f16|f32]\n\n"
      "Writes the weights in IN (safetensors, or GGUF, told apart by content) as a GGUF v3 file\n"
      "that kinema and ggml/llama.cpp tools read.\n\n"
      "What changes:\n"
      "  matrices   tensors with 2 or more dimensions whose last (inner) dimension is a multiple\n"
      "             of 32 become --type. q8_0 keeps 8 bits per value plus one f16 scale per 32\n"
      "             values (8.5 bits; error at most 1/254 of each block's largest magnitude);\n"
      "             q4_0 keeps 4 (4.5 bits; error up to about 1/16 of it, and more where a block\n"
      "             mixes large and small values). A matrix already of --type is copied as is.\n"
      "  the rest   biases, norms, scalars and odd-shaped tensors become f32: they are small and\n"
      "             quantizing them costs quality for no real saving.\n"
      "  metadata   carried over as GGUF string values (a GGUF input's typed values, such as\n"
      "             u32 counts, become strings too; general.alignment is the writer's).\n"
      "GGUF input in q4_1, q5_0, q5_1, q4_K, q5_K or q6_K is dequantized to f32 first.\n\n");
  print_options(options());
  std::printf(
      "\nexample:\n  kinema convert models/default/dit.safetensors dit-q8.gguf --type q8_0\n"
      "prints the tensor count per output type and the bytes of tensor data before and after.\n"
      "exit status: 0 written, 1 error (unreadable input, unknown --type), 2 usage.\n");
}

bool is_gguf(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f && std::string(magic, 4) == "GGUF";
}

int64_t data_bytes(const Tensor& t) { return t.numel() / block_elems(t.dtype()) * int64_t(block_bytes(t.dtype())); }

std::string mib(int64_t bytes) {
  char b[32];
  if (bytes < (1 << 20)) std::snprintf(b, sizeof b, "%.1f KiB", double(bytes) / 1024);
  else std::snprintf(b, sizeof b, "%.2f MiB", double(bytes) / (1 << 20));
  return b;
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  ConvertCli c;
  SplitArguments args = split_arguments(options(), argc, argv);
  const std::vector<std::string>& files = args.positionals;
  std::vector<char*>& opts = args.options;
  try {
    if (!parse_options(options(), int(opts.size()), opts.data(), c, "convert")) {
      usage();
      return 0;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "kinema convert: %s\n", e.what());
    return 2;
  }
  if (files.size() != 2) {
    usage();
    return 2;
  }
  const DType target = dtype_from_name(c.type);  // throws, naming the valid names, for others
  const std::string& in = files[0];
  const bool gguf_in = is_gguf(in);
  TensorFile src = gguf_in ? load_gguf(in, {DType::f32}) : load_tensors(in);

  TensorFile out;
  out.metadata = src.metadata;
  std::map<std::string, int> per_type;
  int64_t before = 0, after = 0;
  for (const auto& [name, t] : src.tensors) {
    Tensor o = convert_weight(t, target);
    before += data_bytes(t);
    after += data_bytes(o);
    ++per_type[std::string(dtype_name(o.dtype()))];
    out.tensors[name] = o;
  }
  save_gguf(files[1], out);
  std::printf("kinema convert: %zu tensors from %s (%s)\n", src.tensors.size(), in.c_str(),
              gguf_in ? "GGUF" : "safetensors");
  for (const auto& [type, n] : per_type) std::printf("  %-5s %d tensors\n", type.c_str(), n);
  std::printf("tensor data: %s before, %s after (%.2fx)\nwrote %s\n", mib(before).c_str(), mib(after).c_str(),
              after ? double(before) / double(after) : 1.0, files[1].c_str());
  return 0;
}

}  // namespace kinema::cli
