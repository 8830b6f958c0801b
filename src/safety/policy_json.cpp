// The operator's policy file. Every key is checked: an unknown key, a wrong type or an
// out-of-range value is an Error naming the file and the field ("categories.violence.threshold").
//
// {
//   "version": 1,
//   "classifier": true,
//   "categories": {"violence": {"enabled": false}, "copyright": {"threshold": 0.8}},
//   "block_terms": {"violence": ["crossbow"], "copyright": ["acme corp"]},
//   "allow_terms": ["zombie walk"],
//   "frames": {"enabled": true, "explicit_threshold": 0.7, "suggestive_threshold": 0.9, "review_stride": 4}
// }
// sexual_minors cannot be configured: that rule holds under every policy.
#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "kinema/safety.hpp"

namespace kinema {
namespace {

using nlohmann::json;

const char* type_of(const json& j) { return j.type_name(); }

void expect(bool ok, const std::string& src, const std::string& field, const std::string& what, const json& got) {
  if (!ok) {
    std::string shown = got.dump(-1, ' ', false, json::error_handler_t::replace);
    if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
    fail("policy", src, ": ", field, " must be ", what, "; got ", type_of(got), " ", shown);
  }
}

void unknown_key(const std::string& src, const std::string& field, const std::string& key, const char* expected) {
  fail("policy", src, ": unknown key '", field.empty() ? key : field + "." + key, "'; expected one of ", expected);
}

SafetyCategory operator_category(const std::string& src, const std::string& field, const std::string& name) {
  if (name == "sexual_minors")
    fail("policy", src, ": ", field, ": sexual_minors cannot be configured; it is refused under every policy");
  for (int i = 1; i < kSafetyClasses; ++i)
    if (name == category_name(SafetyCategory(i))) return SafetyCategory(i);
  fail("policy", src, ": ", field, ": unknown category '", name,
       "'; expected sexual, violence, hate, self_harm, public_figure or copyright");
}

std::vector<std::string> term_list(const json& j, const std::string& src, const std::string& field) {
  expect(j.is_array(), src, field, "an array of strings", j);
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    expect(j[i].is_string(), src, f, "a string", j[i]);
    const std::string t = j[i].get<std::string>();
    if (normalize_prompt(t).tokens.empty()) fail("policy", src, ": ", f, " has no letters or digits; got '", t, "'");
    out.push_back(t);
  }
  return out;
}

double unit_number(const json& x, const std::string& src, const std::string& field) {
  expect(x.is_number() && x.get<double>() > 0 && x.get<double>() <= 1, src, field, "a number in (0, 1]", x);
  return x.get<double>();
}

FramePolicy frame_policy(const json& v, const std::string& src) {
  expect(v.is_object(), src, "frames", "an object like {\"explicit_threshold\": 0.7}", v);
  FramePolicy f;
  for (const auto& [k, x] : v.items()) {
    const std::string field = "frames." + k;
    if (k == "enabled") {
      expect(x.is_boolean(), src, field, "true or false", x);
      f.enabled = x.get<bool>();
    } else if (k == "explicit_threshold") {
      f.explicit_threshold = unit_number(x, src, field);
    } else if (k == "suggestive_threshold") {
      f.suggestive_threshold = unit_number(x, src, field);
    } else if (k == "review_stride") {
      expect(x.is_number_integer() && x.get<int64_t>() >= 1 && x.get<int64_t>() <= 64, src, field,
             "an integer in [1, 64]", x);
      f.review_stride = int(x.get<int64_t>());
    } else {
      unknown_key(src, "frames", k, "enabled, explicit_threshold, suggestive_threshold, review_stride");
    }
  }
  return f;
}

}  // namespace

PolicyConfig parse_policy_json(std::string_view text, const std::string& src) {
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    fail("policy", src, ": not valid JSON: ", e.what());
  }
  expect(root.is_object(), src, "the top level", "an object", root);
  PolicyConfig c;
  for (const auto& [key, v] : root.items()) {
    if (key == "version") {
      expect(v.is_number_integer() && v.get<int64_t>() == 1, src, "version", "1", v);
    } else if (key == "classifier") {
      expect(v.is_boolean(), src, "classifier", "true or false", v);
      c.classifier = v.get<bool>();
    } else if (key == "categories") {
      expect(v.is_object(), src, "categories", "an object of category settings", v);
      for (const auto& [name, cv] : v.items()) {
        const std::string field = "categories." + name;
        CategoryPolicy& cp = c.categories[size_t(operator_category(src, field, name))];
        expect(cv.is_object(), src, field, "an object like {\"enabled\": false, \"threshold\": 0.8}", cv);
        for (const auto& [k, x] : cv.items()) {
          if (k == "enabled") {
            expect(x.is_boolean(), src, field + ".enabled", "true or false", x);
            cp.enabled = x.get<bool>();
          } else if (k == "threshold") {
            cp.threshold = unit_number(x, src, field + ".threshold");
          } else {
            unknown_key(src, field, k, "enabled, threshold");
          }
        }
      }
    } else if (key == "block_terms") {
      expect(v.is_object(), src, "block_terms", "an object from category to a list of terms", v);
      for (const auto& [name, list] : v.items()) {
        const std::string field = "block_terms." + name;
        const SafetyCategory cat = operator_category(src, field, name);
        for (std::string& t : term_list(list, src, field)) c.block_terms.emplace_back(std::move(t), cat);
      }
    } else if (key == "allow_terms") {
      c.allow_terms = term_list(v, src, "allow_terms");
    } else if (key == "frames") {
      c.frames = frame_policy(v, src);
    } else {
      unknown_key(src, "", key, "version, classifier, categories, block_terms, allow_terms, frames");
    }
  }
  return c;
}

}  // namespace kinema
