// A restricted unpickler for the data.pkl of PyTorch zip checkpoints.
// It builds a tree of plain objects and never imports or calls anything: the only globals it
// accepts are the tensor rebuilds torch.save emits (torch._utils._rebuild_tensor_v2,
// _rebuild_parameter, _rebuild_parameter_with_state), collections.OrderedDict, torch's storage
// classes (as persistent-id tags) and torch dtypes (as values). Any other GLOBAL/STACK_GLOBAL,
// and every opcode that builds arbitrary objects (INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1/2/4), is an
// Error naming the callable, before anything of it runs. Protocols 0-5 opcodes are read except
// sets, out-of-band buffers and text-mode persistent ids; torch.save writes protocol 2.
// Objects live in an arena owned by the result, so cycles built through the memo and deep
// nesting cost no recursion here; whoever walks the tree bounds its depth.
// No tensor types here: the libFuzzer target compiles this file on its own.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kinema::pickle {

enum class Kind : uint8_t {
  none, boolean, integer, floating, string, bytes, list, tuple, dict,
  global,   // an accepted class or dtype: `text` is "module.name"
  storage,  // a persistent id ('storage', storage_type, key, location, numel)
  tensor,   // _rebuild_tensor_v2(storage, offset, size, stride, ...)
};
const char* kind_name(Kind k);

struct Object {
  Kind kind = Kind::none;
  bool flag = false;            // boolean value; for tensors: rebuilt as a Parameter
  int64_t integer = 0;          // integer value; storage numel; tensor storage offset
  double floating = 0;
  std::string text;             // string/bytes; global name; storage type; ("torch.FloatStorage")
  std::string key;              // storage: its key (the archive's data/<key>)
  std::vector<Object*> items;   // list/tuple items; dict as key, value, key, value...
  std::vector<int64_t> size, stride;  // tensor
  const Object* storage = nullptr;    // tensor: its storage object
};

struct Limits {
  size_t max_objects = 4u << 20;  // objects built, all kinds together (~10 per tensor)
};

struct Result {
  std::vector<std::unique_ptr<Object>> arena;
  const Object* root = nullptr;
};

// `where` names the file for messages ("model.pth: data.pkl").
Result unpickle(const uint8_t* data, size_t size, const std::string& where, const Limits& limits = {});

}  // namespace kinema::pickle
