#include "io/weights/pickle.hpp"

#include <cstring>
#include <string_view>
#include <unordered_map>

#include "kinema/error.hpp"

namespace kinema::pickle {
namespace {

// The accepted globals and what REDUCE does with each; every other name is refused.
enum class Role { dict, rebuild_tensor, rebuild_parameter, storage_type, dtype };

bool accepted_global(const std::string& name, Role* role) {
  static const char* kStorages[] = {"Float", "Half", "BFloat16", "Double", "Long", "Int", "Short",
                                    "Char", "Byte", "Bool", "ComplexFloat", "ComplexDouble"};
  static const char* kDtypes[] = {"float32", "float", "float16", "half", "bfloat16", "float64",
                                  "double", "int64", "long", "int32", "int", "int16", "short",
                                  "int8", "uint8", "bool", "complex64", "complex128"};
  if (name == "collections.OrderedDict") return *role = Role::dict, true;
  if (name == "torch._utils._rebuild_tensor_v2") return *role = Role::rebuild_tensor, true;
  if (name == "torch._utils._rebuild_parameter" ||
      name == "torch._utils._rebuild_parameter_with_state")
    return *role = Role::rebuild_parameter, true;
  if (name == "torch.UntypedStorage" || name == "torch.storage.UntypedStorage")
    return *role = Role::storage_type, true;
  for (const char* s : kStorages)
    if (name == std::string("torch.") + s + "Storage") return *role = Role::storage_type, true;
  for (const char* d : kDtypes)
    if (name == std::string("torch.") + d) return *role = Role::dtype, true;
  return false;
}

const char* kAccepted =
    "it rebuilds tensors (torch._utils._rebuild_tensor_v2, _rebuild_parameter), "
    "collections.OrderedDict, torch storage classes and dtypes, and plain containers only";

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t n, const std::string& where, const Limits& limits)
      : p_(data), n_(n), where_(where), limits_(limits) {}

  Result run() {
    while (true) {
      KINEMA_CHECK(pos_ < n_, "pickle", where_, ": ends at byte ", n_, " without a STOP opcode (truncated?)");
      op_at_ = pos_;
      uint8_t op = p_[pos_++];
      if (op == '.') break;
      step(op);
    }
    KINEMA_CHECK(!stack_.empty(), "pickle", where_, ": STOP with an empty stack");
    result_.root = stack_.back();
    return std::move(result_);
  }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0, op_at_ = 0;
  std::string where_;
  Limits limits_;
  Result result_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;

  [[noreturn]] void bad(const std::string& what) {
    fail("pickle", where_, ": ", what, " (opcode at byte ", op_at_, ")");
  }

  const uint8_t* take(uint64_t k) {
    if (k > n_ - pos_) bad("needs " + std::to_string(k) + " bytes but the pickle has " + std::to_string(n_ - pos_) + " left (truncated?)");
    const uint8_t* q = p_ + pos_;
    pos_ += size_t(k);
    return q;
  }
  uint64_t uint_le(int bytes) {
    const uint8_t* q = take(bytes);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(q[i]) << (8 * i);
    return v;
  }
  std::string line() {  // protocol 0 arguments end in '\n'
    size_t start = pos_;
    while (pos_ < n_ && p_[pos_] != '\n') {
      if (pos_ - start > 1024) bad("a text argument longer than 1024 bytes");
      ++pos_;
    }
    if (pos_ >= n_) bad("a text argument without its newline (truncated?)");
    return std::string(reinterpret_cast<const char*>(p_ + start), pos_++ - start);
  }

  Object* make(Kind k) {
    if (result_.arena.size() >= limits_.max_objects)
      bad("more than " + std::to_string(limits_.max_objects) + " objects");
    result_.arena.push_back(std::make_unique<Object>());
    result_.arena.back()->kind = k;
    return result_.arena.back().get();
  }
  void push(Object* o) { stack_.push_back(o); }
  Object* pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) bad("pops an empty stack");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) bad("reads an empty stack");
    return stack_.back();
  }
  std::vector<Object*> pop_mark() {
    if (marks_.empty()) bad("needs a MARK but there is none");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  void push_int(int64_t v) {
    Object* o = make(Kind::integer);
    o->integer = v;
    push(o);
  }
  void push_text(Kind k, uint64_t len) {
    const uint8_t* q = take(len);
    Object* o = make(k);
    o->text.assign(reinterpret_cast<const char*>(q), size_t(len));
    push(o);
  }
  void push_tuple(std::vector<Object*> items) {
    Object* o = make(Kind::tuple);
    o->items = std::move(items);
    push(o);
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) bad("reads memo entry " + std::to_string(index) + " which was never stored");
    push(it->second);
  }
  void push_long(uint64_t nbytes) {
    if (nbytes > 8) bad("an integer of " + std::to_string(nbytes) + " bytes (kinema reads up to 64 bits)");
    const uint8_t* q = take(nbytes);
    uint64_t v = 0;
    for (uint64_t i = 0; i < nbytes; ++i) v |= uint64_t(q[i]) << (8 * i);
    if (nbytes > 0 && nbytes < 8 && (q[nbytes - 1] & 0x80)) v |= ~uint64_t(0) << (8 * nbytes);  // sign
    push_int(int64_t(v));
  }
  void push_global(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    Role role;
    if (!accepted_global(full, &role))
      fail("pickle", where_, ": refuses to import ", full, " (byte ", op_at_, "): kinema's unpickler never "
           "imports or calls anything; ", kAccepted, ". This checkpoint would run code when loaded "
           "by torch.load: do not load it there either unless you trust it");
    Object* o = make(Kind::global);
    o->text = full;
    push(o);
  }
  void add_items(Object* target, const std::vector<Object*>& items, bool pairs) {
    Kind want = pairs ? Kind::dict : Kind::list;
    if (target->kind != want)
      bad(std::string(pairs ? "SETITEM(S)" : "APPEND(S)") + " on a " + kind_name(target->kind));
    if (pairs && items.size() % 2) bad("SETITEMS with an odd number of items");
    target->items.insert(target->items.end(), items.begin(), items.end());
  }

  void step(uint8_t op);
  bool scalar_op(uint8_t op);
  bool container_op(uint8_t op);
  void object_op(uint8_t op);
  void reduce();
  void persistent_id();
  void build();
  Object* rebuild_tensor(const std::vector<Object*>& args);
  std::vector<int64_t> int_tuple(const Object* o, const char* what);
};

void Unpickler::step(uint8_t op) {
  if (!scalar_op(op) && !container_op(op)) object_op(op);
}

// Constants: None, bools, ints, floats, strings, bytes (and the protocol header).
bool Unpickler::scalar_op(uint8_t op) {
  switch (op) {
    case 0x80: {  // PROTO
      uint64_t v = uint_le(1);
      if (v > 5) bad("pickle protocol " + std::to_string(v) + " (kinema reads 0-5)");
      return true;
    }
    case 0x95: take(8); return true;  // FRAME: a length hint only
    case 'N': push(make(Kind::none)); return true;
    case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
      Object* o = make(Kind::boolean);
      o->flag = op == 0x88;
      push(o);
      return true;
    }
    case 'J': push_int(int32_t(uint32_t(uint_le(4)))); return true;  // BININT
    case 'K': push_int(int64_t(uint_le(1))); return true;            // BININT1
    case 'M': push_int(int64_t(uint_le(2))); return true;            // BININT2
    case 0x8a: push_long(uint_le(1)); return true;                   // LONG1
    case 0x8b: push_long(uint_le(4)); return true;                   // LONG4
    case 'I': {  // INT (protocol 0): "00"/"01" are False/True
      std::string s = line();
      if (s == "00" || s == "01") {
        Object* o = make(Kind::boolean);
        o->flag = s == "01";
        push(o);
        return true;
      }
      try {
        size_t used = 0;
        int64_t v = std::stoll(s, &used);
        if (used != s.size()) bad("INT argument '" + s + "' is not a number");
        push_int(v);
      } catch (const std::logic_error&) {
        bad("INT argument '" + s + "' is not a 64-bit number");
      }
      return true;
    }
    case 'G': {  // BINFLOAT: big-endian double
      const uint8_t* q = take(8);
      uint64_t u = 0;
      for (int i = 0; i < 8; ++i) u = (u << 8) | q[i];
      Object* o = make(Kind::floating);
      std::memcpy(&o->floating, &u, 8);
      push(o);
      return true;
    }
    case 'X': push_text(Kind::string, uint_le(4)); return true;     // BINUNICODE
    case 0x8c: push_text(Kind::string, uint_le(1)); return true;    // SHORT_BINUNICODE
    case 0x8d: push_text(Kind::string, uint_le(8)); return true;    // BINUNICODE8
    case 'T': push_text(Kind::string, uint_le(4)); return true;     // BINSTRING
    case 'U': push_text(Kind::string, uint_le(1)); return true;     // SHORT_BINSTRING
    case 'B': push_text(Kind::bytes, uint_le(4)); return true;      // BINBYTES
    case 'C': push_text(Kind::bytes, uint_le(1)); return true;      // SHORT_BINBYTES
    case 0x8e: push_text(Kind::bytes, uint_le(8)); return true;     // BINBYTES8
    default: return false;
  }
}

// Lists, tuples, dicts, the mark stack and the memo.
bool Unpickler::container_op(uint8_t op) {
  switch (op) {
    case '}': push(make(Kind::dict)); return true;                  // EMPTY_DICT
    case ']': push(make(Kind::list)); return true;                  // EMPTY_LIST
    case ')': push_tuple({}); return true;                          // EMPTY_TUPLE
    case '(': marks_.push_back(stack_.size()); return true;         // MARK
    case 't': push_tuple(pop_mark()); return true;                  // TUPLE
    case 0x85: { Object* a = pop(); push_tuple({a}); return true; }  // TUPLE1
    case 0x86: { Object* b = pop(); Object* a = pop(); push_tuple({a, b}); return true; }
    case 0x87: { Object* c = pop(); Object* b = pop(); Object* a = pop(); push_tuple({a, b, c}); return true; }
    case 'l': { Object* o = make(Kind::list); o->items = pop_mark(); push(o); return true; }  // LIST
    case 'd': {  // DICT
      Object* o = make(Kind::dict);
      add_items(o, pop_mark(), true);
      push(o);
      return true;
    }
    case 'a': { Object* v = pop(); add_items(top(), {v}, false); return true; }  // APPEND
    case 'e': { auto items = pop_mark(); add_items(top(), items, false); return true; }  // APPENDS
    case 's': { Object* v = pop(); Object* k = pop(); add_items(top(), {k, v}, true); return true; }
    case 'u': { auto items = pop_mark(); add_items(top(), items, true); return true; }  // SETITEMS
    case 'q': memo_put(uint_le(1)); return true;                    // BINPUT
    case 'r': memo_put(uint_le(4)); return true;                    // LONG_BINPUT
    case 0x94: memo_put(memo_.size()); return true;                 // MEMOIZE
    case 'h': memo_get(uint_le(1)); return true;                    // BINGET
    case 'j': memo_get(uint_le(4)); return true;                    // LONG_BINGET
    case 'p': case 'g': {  // PUT, GET (protocol 0)
      std::string s = line();
      uint64_t idx = 0;
      for (char c : s) {
        if (c < '0' || c > '9' || idx > (uint64_t(1) << 40)) bad("memo index '" + s + "' is not a number");
        idx = idx * 10 + uint64_t(c - '0');
      }
      op == 'p' ? memo_put(idx) : memo_get(idx);
      return true;
    }
    case '0': pop(); return true;                                   // POP
    case '1': pop_mark(); return true;                              // POP_MARK
    case '2': push(top()); return true;                             // DUP
    default: return false;
  }
}

// Globals, calls and everything that would build arbitrary objects.
void Unpickler::object_op(uint8_t op) {
  switch (op) {
    case 'c': {  // GLOBAL
      std::string module = line();
      std::string name = line();
      push_global(module, name);
      return;
    }
    case 0x93: {  // STACK_GLOBAL
      Object* name = pop();
      Object* module = pop();
      if (name->kind != Kind::string || module->kind != Kind::string) bad("STACK_GLOBAL on non-strings");
      push_global(module->text, name->text);
      return;
    }
    case 'R': reduce(); return;
    case 'Q': persistent_id(); return;
    case 'b': build(); return;
    case 'i': {  // INST: module and class inline
      std::string module = line();
      std::string name = line();
      fail("pickle", where_, ": refuses INST of ", module, ".", name, " (byte ", op_at_,
           "): kinema's unpickler never instantiates classes; ", kAccepted);
    }
    case 'o': case 0x81: case 0x92: {  // OBJ, NEWOBJ, NEWOBJ_EX
      std::string cls = "an object";
      if (op != 'o' && stack_.size() >= size_t(op == 0x81 ? 2 : 3))
        cls = stack_[stack_.size() - (op == 0x81 ? 2 : 3)]->text;
      fail("pickle", where_, ": refuses to instantiate ", cls.empty() ? "an object" : cls,
           " (", op == 'o' ? "OBJ" : op == 0x81 ? "NEWOBJ" : "NEWOBJ_EX", " at byte ", op_at_, "); ", kAccepted);
    }
    case 0x82: case 0x83: case 0x84:
      bad("an extension-registry code (EXT1/2/4), which names a callable kinema refuses to look up");
    case 'P': bad("a protocol-0 persistent id (PERSID), which torch.save does not write");
    case 0x8f: case 0x90: case 0x91: bad("a set (EMPTY_SET/ADDITEMS/FROZENSET), which torch checkpoints do not hold");
    case 0x96: case 0x97: case 0x98: bad("an out-of-band buffer (protocol 5), which torch.save does not write");
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      bad(std::string("unknown opcode ") + hex);
    }
  }
}

std::vector<int64_t> Unpickler::int_tuple(const Object* o, const char* what) {
  if (o->kind != Kind::tuple && o->kind != Kind::list)
    bad(std::string("_rebuild_tensor_v2 with a ") + kind_name(o->kind) + " as its " + what);
  std::vector<int64_t> v;
  for (const Object* x : o->items) {
    if (x->kind != Kind::integer) bad(std::string("_rebuild_tensor_v2 with a ") + kind_name(x->kind) + " in its " + what);
    v.push_back(x->integer);
  }
  return v;
}

Object* Unpickler::rebuild_tensor(const std::vector<Object*>& a) {
  if (a.size() != 6 && a.size() != 7)
    bad("_rebuild_tensor_v2 with " + std::to_string(a.size()) + " arguments; expected 6 or 7");
  if (a[0]->kind != Kind::storage) bad(std::string("_rebuild_tensor_v2 of a ") + kind_name(a[0]->kind) + ", not a storage");
  if (a[1]->kind != Kind::integer) bad("_rebuild_tensor_v2 with a non-integer storage offset");
  Object* t = make(Kind::tensor);
  t->storage = a[0];
  t->integer = a[1]->integer;
  t->size = int_tuple(a[2], "size");
  t->stride = int_tuple(a[3], "stride");
  if (t->size.size() != t->stride.size())
    bad("_rebuild_tensor_v2 with " + std::to_string(t->size.size()) + " sizes but " +
        std::to_string(t->stride.size()) + " strides");
  return t;
}

void Unpickler::reduce() {
  Object* args = pop();
  Object* fn = pop();
  if (fn->kind != Kind::global) bad(std::string("REDUCE calls a ") + kind_name(fn->kind) + ", not an accepted global");
  if (args->kind != Kind::tuple) bad("REDUCE of " + fn->text + " with arguments that are not a tuple");
  const std::vector<Object*>& a = args->items;
  Role role;
  accepted_global(fn->text, &role);
  switch (role) {
    case Role::dict: {
      Object* d = make(Kind::dict);
      if (a.size() == 1 && a[0]->kind == Kind::list) {  // OrderedDict([(k, v), ...])
        for (const Object* kv : a[0]->items) {
          if ((kv->kind != Kind::tuple && kv->kind != Kind::list) || kv->items.size() != 2)
            bad("OrderedDict built from something other than (key, value) pairs");
          d->items.insert(d->items.end(), kv->items.begin(), kv->items.end());
        }
      } else if (!a.empty()) {
        bad("OrderedDict called with " + std::to_string(a.size()) + " arguments");
      }
      push(d);
      return;
    }
    case Role::rebuild_tensor: push(rebuild_tensor(a)); return;
    case Role::rebuild_parameter:
      if (a.size() < 3 || a.size() > 4 || a[0]->kind != Kind::tensor)
        bad(fn->text + " with arguments other than (tensor, requires_grad, hooks[, state])");
      a[0]->flag = true;
      push(a[0]);
      return;
    case Role::storage_type:
    case Role::dtype:
      fail("pickle", where_, ": refuses to call ", fn->text, " (REDUCE at byte ", op_at_,
           "); torch.save passes storage classes and dtypes as values only");
  }
}

void Unpickler::persistent_id() {  // BINPERSID: ('storage', storage_type, key, location, numel)
  Object* pid = pop();
  const auto& a = pid->items;
  if (pid->kind != Kind::tuple || a.size() != 5 || a[0]->kind != Kind::string || a[0]->text != "storage")
    bad("a persistent id that is not ('storage', type, key, location, numel)");
  Role role;
  if (a[1]->kind != Kind::global || !accepted_global(a[1]->text, &role) || role != Role::storage_type)
    bad("a storage whose type is not a torch storage class");
  if (a[2]->kind != Kind::string || a[3]->kind != Kind::string || a[4]->kind != Kind::integer)
    bad("a storage id with a malformed key, location or element count");
  Object* s = make(Kind::storage);
  s->text = a[1]->text;
  s->key = a[2]->text;
  s->integer = a[4]->integer;
  push(s);
}

void Unpickler::build() {  // BUILD: obj.__setstate__(state)
  Object* state = pop();
  Object* obj = top();
  // nn.Module state dicts are OrderedDicts with a `_metadata` attribute: nothing to keep.
  if (obj->kind == Kind::dict && (state->kind == Kind::dict || state->kind == Kind::none)) return;
  bad(std::string("BUILD (__setstate__) on a ") + kind_name(obj->kind) + (obj->kind == Kind::global ? " " + obj->text : "") +
      ", which kinema's unpickler refuses");
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::list: return "list";
    case Kind::tuple: return "tuple";
    case Kind::dict: return "dict";
    case Kind::global: return "class";
    case Kind::storage: return "storage";
    case Kind::tensor: return "tensor";
  }
  return "?";
}

Result unpickle(const uint8_t* data, size_t size, const std::string& where, const Limits& limits) {
  return Unpickler(data, size, where, limits).run();
}

}  // namespace kinema::pickle
