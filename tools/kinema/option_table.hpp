// A subcommand's options as one table: each row parses its flag and prints its own help line
// with the default, so `--help` can never drift from what the parser accepts.
#pragma once
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kinema/dtype.hpp"
#include "kinema/error.hpp"
#include "kinema/compute_choice.hpp"

namespace kinema::cli {

template <class Cli>
struct Option {
  const char* name;
  const char* hint;  // "" for a flag
  const char* help;
  std::function<std::string(const Cli&)> show;  // the default, for --help
  std::function<void(Cli&, const std::string&)> set;
};

// Both throw std::invalid_argument; parse_options turns that into an Error naming the option.
inline int64_t to_int(const std::string& v) {
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != 0) throw std::invalid_argument("not an integer");
  return x;
}
// Training's --compute: the products' dtype, f32 or bf16, or auto for whichever this CPU
// multiplies faster (timed: faster_compute_dtype). dtype_from_name would also take f16 and the
// quantized types, which no trainer runs.
inline DType to_compute_dtype(const std::string& v) {
  if (v == "f32") return DType::f32;
  if (v == "bf16") return DType::bf16;
  if (v == "auto") return faster_compute_dtype();
  throw std::invalid_argument("not f32, bf16 or auto");
}
// "WxH,WxH,..." -> (w, h) pairs, each side at most kMaxSide; the error names the command (`where`)
// and the option.
inline constexpr int kMaxSide = 16384;
inline std::vector<std::pair<int, int>> to_sizes(const std::string& list, const char* where, const char* flag) {
  std::vector<std::pair<int, int>> out;
  size_t start = 0;
  for (;;) {
    const size_t end = list.find(',', start);
    const std::string s = list.substr(start, end == std::string::npos ? std::string::npos : end - start);
    int w = 0, h = 0;
    const char *p = s.data(), *e = s.data() + s.size();
    const auto [x, ew] = std::from_chars(p, e, w);
    bool ok = ew == std::errc() && x < e && *x == 'x';
    if (ok) {
      const auto [y, eh] = std::from_chars(x + 1, e, h);
      ok = eh == std::errc() && y == e && w > 0 && h > 0;
    }
    check(ok, where, flag, " needs WxH,WxH,...; got '", s, "'");
    check(w <= kMaxSide && h <= kMaxSide, where, flag, ": ", w, "x", h, " is larger than ", kMaxSide, " a side");
    out.emplace_back(w, h);
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}
// The other way: (w, h) pairs -> "WxH,WxH,...".
inline std::string size_list(const std::vector<std::pair<int, int>>& sizes) {
  std::string out;
  for (const auto& [w, h] : sizes) out += (out.empty() ? "" : ",") + std::to_string(w) + "x" + std::to_string(h);
  return out;
}
inline float to_float(const std::string& v) {
  char* end = nullptr;
  float x = std::strtof(v.c_str(), &end);
  if (v.empty() || *end != 0) throw std::invalid_argument("not a number");
  return x;
}
// A "0|1" option's value; anything else is an Error naming the flag.
inline bool to_switch(const std::string& v, const char* flag) {
  check(v == "0" || v == "1", "cli", flag, " takes 0 or 1; got '", v, "'");
  return v == "1";
}

// Commands with positional arguments (files, a prompt) split argv first: the first
// `max_positionals` arguments not starting with '-' (and not an option's value: options with a
// hint take the next argument) are positionals; `options` is argv[0] plus the rest, for
// parse_options (where a surplus positional is reported as an unknown option).
struct SplitArguments {
  std::vector<std::string> positionals;
  std::vector<char*> options;
};
template <class Cli>
SplitArguments split_arguments(const std::vector<Option<Cli>>& table, int argc, char** argv,
                               size_t max_positionals = size_t(-1)) {
  SplitArguments s{{}, {argv[0]}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a.empty() || a[0] != '-') && s.positionals.size() < max_positionals) {
      s.positionals.push_back(a);
      continue;
    }
    s.options.push_back(argv[i]);
    for (const Option<Cli>& o : table)
      if (a == o.name && o.hint[0] && i + 1 < argc) s.options.push_back(argv[++i]);
  }
  return s;
}

// Parses argv[1..] into c. Returns false when --help/-h was given (the caller prints help).
template <class Cli>
bool parse_options(const std::vector<Option<Cli>>& table, int argc, char** argv, Cli& c,
                   const char* command) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return false;
    const Option<Cli>* found = nullptr;
    for (const Option<Cli>& o : table)
      if (a == o.name) found = &o;
    check(found != nullptr, command, "unknown option '", a, "'; `kinema ", command, " --help` lists them");
    std::string value;
    if (found->hint[0]) {
      check(i + 1 < argc, command, a, " needs a value (", found->hint, ")");
      value = argv[++i];
    }
    try {
      found->set(c, value);
    } catch (const std::invalid_argument&) {
      fail(command, a, " needs ", found->hint, "; got '", value, "'");
    }
  }
  return true;
}

template <class Cli>
void print_options(const std::vector<Option<Cli>>& table) {
  std::printf("options (default in brackets):\n");
  for (const Option<Cli>& o : table) {
    std::string left = std::string(o.name) + (o.hint[0] ? std::string(" ") + o.hint : "");
    std::printf("  %-22s %s [%s]\n", left.c_str(), o.help, o.show(Cli()).c_str());
  }
}

}  // namespace kinema::cli

// Row helpers: integer, float and string fields of the Cli struct.
#define KINEMA_OPT_INT(field)                                                   \
  [](const auto& c) { return std::to_string(c.field); },                         \
  [](auto& c, const std::string& v) { c.field = decltype(c.field)(::kinema::cli::to_int(v)); }
#define KINEMA_OPT_FLOAT(field)                                                 \
  [](const auto& c) { char b[32]; std::snprintf(b, 32, "%g", double(c.field)); return std::string(b); }, \
  [](auto& c, const std::string& v) { c.field = ::kinema::cli::to_float(v); }
#define KINEMA_OPT_STRING(field)                                                \
  [](const auto& c) { return c.field.empty() ? std::string("none") : c.field; }, \
  [](auto& c, const std::string& v) { c.field = v; }
#define KINEMA_OPT_COMPUTE(field)                                               \
  [](const auto& c) { return std::string(::kinema::dtype_name(c.field)); },      \
  [](auto& c, const std::string& v) { c.field = ::kinema::cli::to_compute_dtype(v); }
#define KINEMA_OPT_FLAG(field)                                                  \
  [](const auto& c) { return std::string(c.field ? "on" : "off"); },            \
  [](auto& c, const std::string&) { c.field = true; }
