#include "io/weights/pth_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>

#include "io/weights/pickle.hpp"
#include "kinema/error.hpp"

namespace kinema::pth {
namespace {

using pickle::Kind;
using pickle::Object;

struct StorageInfo {
  Elem elem;
  int size;
  const char* dtype;
};

StorageInfo storage_info(const std::string& type) {
  static const std::pair<const char*, StorageInfo> kTable[] = {
      {"torch.FloatStorage", {Elem::f32, 4, "float32"}},
      {"torch.HalfStorage", {Elem::f16, 2, "float16"}},
      {"torch.BFloat16Storage", {Elem::bf16, 2, "bfloat16"}},
      {"torch.DoubleStorage", {Elem::f64, 8, "float64"}},
      {"torch.LongStorage", {Elem::skipped, 8, "int64"}},
      {"torch.IntStorage", {Elem::skipped, 4, "int32"}},
      {"torch.ShortStorage", {Elem::skipped, 2, "int16"}},
      {"torch.CharStorage", {Elem::skipped, 1, "int8"}},
      {"torch.ByteStorage", {Elem::skipped, 1, "uint8"}},
      {"torch.BoolStorage", {Elem::skipped, 1, "bool"}},
      {"torch.ComplexFloatStorage", {Elem::skipped, 8, "complex64"}},
      {"torch.ComplexDoubleStorage", {Elem::skipped, 16, "complex128"}},
      {"torch.UntypedStorage", {Elem::skipped, 1, "uint8"}},
      {"torch.storage.UntypedStorage", {Elem::skipped, 1, "uint8"}},
  };
  for (const auto& [name, info] : kTable)
    if (type == name) return info;
  fail("pth", "unknown storage type ", type);  // the unpickler accepts only the ones above
}

// Checkpoint wrappers whose contents are the state dict: unwrapped without a name prefix.
bool is_wrapper(const std::string& key) {
  return key == "model" || key == "state_dict" || key == "module" || key == "model_state";
}

bool is_scalar(const Object* o) {
  return o->kind == Kind::string || o->kind == Kind::integer || o->kind == Kind::floating ||
         o->kind == Kind::boolean || o->kind == Kind::global;
}

std::string scalar_text(const Object* o, bool quote) {
  switch (o->kind) {
    case Kind::integer: return std::to_string(o->integer);
    case Kind::boolean: return o->flag ? "true" : "false";
    case Kind::floating: {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, o->floating);  // shortest round trip
      return std::string(buf, r.ptr);
    }
    case Kind::global: return quote ? "\"" + o->text + "\"" : o->text;  // a dtype: "torch.float16"
    default: break;
  }
  if (!quote) return o->text;
  std::string out = "\"";
  for (char c : o->text) {
    if (c == '"' || c == '\\') out += '\\';
    if (uint8_t(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

class Planner {
 public:
  Planner(const zip::Archive& ar, std::string prefix, const std::string& where, const PlanLimits& limits)
      : ar_(ar), prefix_(std::move(prefix)), where_(where), limits_(limits) {}

  void walk(const Object* o, const std::string& name, int depth);
  Plan plan;
  std::map<std::string, std::string> skipped;

 private:
  const zip::Archive& ar_;
  std::string prefix_;
  const std::string& where_;
  PlanLimits limits_;
  int64_t repeated_ = 0, visits_ = 0;
  uint64_t text_bytes_ = 0;

  // The memo lets one container appear many times (L1 = [L0, L0], L2 = [L1, L1], ...), so the
  // walk counts what it does and makes, not just how deep it goes.
  void count(const std::string& name, size_t value_bytes) {
    KINEMA_CHECK(++visits_ <= limits_.max_visits, "pth", where_, ": data.pkl refers to its objects more than ",
                 limits_.max_visits, " times (shared containers repeated over and over)");
    KINEMA_CHECK(name.size() <= limits_.max_name_bytes, "pth", where_, ": a name of ", name.size(),
                 " bytes starting '", name.substr(0, 40), "...'; expected at most ", limits_.max_name_bytes);
    text_bytes_ += name.size() + value_bytes;
    KINEMA_CHECK(text_bytes_ <= limits_.max_text_bytes, "pth", where_, ": names and metadata exceed ",
                 limits_.max_text_bytes, " bytes");
  }

  void add_tensor(const Object* t, const std::string& name);
  std::set<std::string> names_;
  void check_name(const std::string& name) {
    KINEMA_CHECK(names_.insert(name).second, "pth", where_, ": two tensors are named '", name,
                 "' once nested state dicts are flattened");
  }
};

std::string child(const std::string& name, const std::string& key) {
  return name.empty() ? key : name + "." + key;
}

void Planner::walk(const Object* o, const std::string& name, int depth) {
  KINEMA_CHECK(depth <= limits_.max_depth, "pth", where_, ": data.pkl nests containers deeper than ",
               limits_.max_depth, " levels at '", name.substr(0, 40), name.size() > 40 ? "...'" : "'",
               " (or a container holds itself)");
  count(name, o->kind == Kind::string ? o->text.size() : 0);
  switch (o->kind) {
    case Kind::tensor: add_tensor(o, name.empty() ? "tensor" : name); return;
    case Kind::dict: {
      // Later keys win, as in Python; keep the first position of each key.
      std::vector<std::pair<std::string, const Object*>> entries;
      std::map<std::string, size_t> index;
      for (size_t i = 0; i + 1 < o->items.size(); i += 2) {
        const Object* k = o->items[i];
        if (k->kind != Kind::string && k->kind != Kind::integer) continue;  // not a name: ignored
        std::string key = k->kind == Kind::string ? k->text : std::to_string(k->integer);
        auto [it, fresh] = index.emplace(key, entries.size());
        if (fresh) entries.push_back({key, o->items[i + 1]});
        else entries[it->second].second = o->items[i + 1];
      }
      for (const auto& [key, v] : entries) {
        bool unwrap = name.empty() && is_wrapper(key) && v->kind == Kind::dict;
        walk(v, unwrap ? std::string() : child(name, key), depth + 1);
      }
      return;
    }
    case Kind::list:
    case Kind::tuple: {
      bool all_scalar = !o->items.empty() &&
                        std::all_of(o->items.begin(), o->items.end(), is_scalar);
      if (all_scalar && !name.empty()) {  // a JSON array: "[0.9, 0.999]"
        std::string s = "[";
        for (size_t i = 0; i < o->items.size(); ++i) s += (i ? ", " : "") + scalar_text(o->items[i], true);
        plan.metadata.emplace(name, s + "]");
        return;
      }
      for (size_t i = 0; i < o->items.size(); ++i) walk(o->items[i], child(name, std::to_string(i)), depth + 1);
      return;
    }
    default:
      if (is_scalar(o) && !name.empty()) plan.metadata.emplace(name, scalar_text(o, false));
      return;  // None, bytes, bare storages: not weights, not simple metadata
  }
}

// Multiplies or adds with overflow checks against kLimit (2^62: leaves room for bytes).
constexpr int64_t kLimit = int64_t(1) << 62;

void Planner::add_tensor(const Object* t, const std::string& name) {
  check_name(name);
  const Object* s = t->storage;
  StorageInfo info = storage_info(s->text);
  TensorPlan p;
  p.name = name;
  p.elem = info.elem;
  p.elem_size = info.size;
  p.torch_dtype = info.dtype;
  p.shape = t->size;
  p.strides = t->stride;
  p.offset = t->integer;
  std::string entry_name = prefix_ + "data/" + s->key;
  p.storage = ar_.find(entry_name);
  KINEMA_CHECK(p.storage != nullptr, "pth", where_, ": tensor '", name, "' uses storage '", s->key,
               "' but the archive has no entry ", entry_name);
  KINEMA_CHECK(s->integer >= 0 && s->integer <= kLimit / info.size &&
                   uint64_t(s->integer) * info.size == p.storage->size,
               "pth", where_, ": storage ", entry_name, " holds ", p.storage->size,
               " bytes but data.pkl says ", s->integer, " elements of ", info.size, " bytes (",
               info.dtype, ")");
  const uint64_t storage_elems = p.storage->size / info.size;
  KINEMA_CHECK(p.shape.size() <= 64, "pth", where_, ": tensor '", name, "' has ", p.shape.size(),
               " dimensions; expected at most 64");
  int64_t numel = 1, last = 0;  // last: offset of the final element relative to the first
  bool bad = p.offset < 0 || p.offset > kLimit;
  for (size_t i = 0; i < p.shape.size() && !bad; ++i) {
    int64_t d = p.shape[i], st = p.strides[i];
    if (d < 0 || st < 0 || d > kLimit || st > kLimit) { bad = true; break; }
    if (d == 0) { numel = 0; continue; }
    if (numel > kLimit / d) { bad = true; break; }
    numel *= d;
    if (st != 0 && (d - 1) > (kLimit - last) / st) { bad = true; break; }
    last += (d - 1) * st;
  }
  KINEMA_CHECK(!bad && numel <= kLimit / 16, "pth", where_, ": tensor '", name,
               "' has an impossible view: shape (", [&] {
                 std::string v;
                 for (size_t i = 0; i < p.shape.size(); ++i)
                   v += (i ? ", " : "") + std::to_string(p.shape[i]) + "/" + std::to_string(p.strides[i]);
                 return v;
               }(), ") as size/stride, offset ", p.offset, " (negative or overflowing)");
  p.numel = numel;
  if (numel > 0) {
    p.first = uint64_t(p.offset);
    p.extent = uint64_t(last) + 1;
    KINEMA_CHECK(p.first <= storage_elems && p.extent <= storage_elems - p.first, "pth", where_,
                 ": tensor '", name, "' reads storage elements up to ", p.first + p.extent,
                 " but its storage ", entry_name, " holds ", storage_elems, " (", info.dtype, ")");
    if (uint64_t(numel) > p.extent) {  // stride 0 or overlapping: repeats storage elements
      repeated_ += numel;
      KINEMA_CHECK(repeated_ <= limits_.max_repeat_elems, "pth", where_, ": tensor '", name,
                   "' repeats its storage (a stride-0 or overlapping view) into ", numel,
                   " elements; kinema materializes at most ", limits_.max_repeat_elems,
                   " repeated elements per checkpoint");
    }
  }
  if (p.elem == Elem::skipped) {
    std::string shape = "[";
    for (size_t i = 0; i < p.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(p.shape[i]);
    skipped[name] = std::string(info.dtype) + " " + shape + "]";
    return;
  }
  plan.tensors.push_back(std::move(p));
}

std::string archive_prefix(const zip::Archive& ar, const std::string& where) {
  std::string prefix;
  int found = 0;
  bool torchscript = false;
  for (const auto& [name, e] : ar.entries()) {
    size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    std::string rest = name.substr(slash + 1);
    if (rest == "data.pkl") prefix = name.substr(0, slash + 1), ++found;
    if (rest == "constants.pkl" || rest.rfind("code/", 0) == 0) torchscript = true;
  }
  KINEMA_CHECK(!torchscript, "pth", where, ": is a TorchScript archive (torch.jit.save); kinema "
               "reads torch.save checkpoints: save the model's state_dict() with torch.save");
  KINEMA_CHECK(found == 1, "pth", where, ": a PyTorch checkpoint holds one <archive>/data.pkl; "
               "this zip holds ", found);
  return prefix;
}

}  // namespace

Plan make_plan(const zip::Archive& ar, const std::string& where, const PlanLimits& limits) {
  std::string prefix = archive_prefix(ar, where);
  Planner planner(ar, prefix, where, limits);
  if (const zip::Entry* bo = ar.find(prefix + "byteorder")) {
    std::vector<uint8_t> b = ar.read(*bo, 16);
    std::string s(b.begin(), b.end());
    KINEMA_CHECK(s == "little" || s == "big", "pth", where, ": byteorder entry says '", s,
                 "'; expected 'little' or 'big'");
    planner.plan.big_endian = s == "big";
  }
  std::vector<uint8_t> pkl = ar.read(*ar.find(prefix + "data.pkl"), limits.max_pickle_bytes);
  pickle::Result r = pickle::unpickle(pkl.data(), pkl.size(), where + ": data.pkl");
  KINEMA_CHECK(r.root->kind == Kind::dict || r.root->kind == Kind::tensor ||
                   r.root->kind == Kind::list || r.root->kind == Kind::tuple,
               "pth", where, ": data.pkl holds a ", pickle::kind_name(r.root->kind),
               "; expected a state dict (a dict of tensors)");
  planner.walk(r.root, "", 0);
  for (const auto& [name, note] : planner.skipped)
    planner.plan.metadata["pth.skipped." + name] = note + ": kinema has no integer/bool/complex dtype";
  return std::move(planner.plan);
}

namespace {

void gather(const uint8_t* src, uint8_t* dst, size_t& out, const TensorPlan& t, size_t dim,
            int64_t base) {
  const size_t es = size_t(t.elem_size);
  if (dim + 1 == t.shape.size()) {
    for (int64_t i = 0; i < t.shape[dim]; ++i)
      std::memcpy(dst + es * out++, src + es * size_t(base + i * t.strides[dim]), es);
    return;
  }
  for (int64_t i = 0; i < t.shape[dim]; ++i) gather(src, dst, out, t, dim + 1, base + i * t.strides[dim]);
}

void swap_bytes(uint8_t* p, size_t n, int es) {
  for (size_t i = 0; i < n; ++i) std::reverse(p + i * es, p + (i + 1) * es);
}

}  // namespace

void read_contiguous(const zip::Archive& ar, const TensorPlan& t, bool big_endian, uint8_t* dst) {
  if (t.numel == 0) return;
  const size_t es = size_t(t.elem_size);
  const uint64_t start = t.storage->data_offset + t.first * es;
  if (uint64_t(t.numel) == t.extent) {  // maybe the row-major range itself: read it into place
    bool contiguous = true;
    int64_t expect = 1;
    for (size_t i = t.shape.size(); i-- > 0;) {
      if (t.shape[i] == 1) continue;
      if (t.strides[i] != expect) contiguous = false;
      expect *= t.shape[i];
    }
    if (contiguous) {
      ar.source().read(start, dst, size_t(t.numel) * es);
      if (big_endian && es > 1) swap_bytes(dst, size_t(t.numel), t.elem_size);
      return;
    }
  }
  std::vector<uint8_t> window(size_t(t.extent) * es);
  ar.source().read(start, window.data(), window.size());
  if (big_endian && es > 1) swap_bytes(window.data(), size_t(t.extent), t.elem_size);
  if (t.shape.empty()) {
    std::memcpy(dst, window.data(), es);
    return;
  }
  size_t out = 0;
  gather(window.data(), dst, out, t, 0, 0);
}

}  // namespace kinema::pth
