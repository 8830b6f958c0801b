// TF.js model files: model.json ({modelTopology, weightsManifest: [{paths, weights: [{name, shape,
// dtype, quantization?}]}]}) and weight shards, the shards of a group concatenated in order and the
// weights laid out back to back in manifest order (tfjs-core io/weights_loader.ts). Quantized
// weights store q (uint8 / uint16) with value = q * scale + min, or float16 halves
// (tfjs-core io/io_utils.ts, decodeWeights). Every count is checked before it is used.
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "kinema/frame_review.hpp"

namespace kinema {
namespace {

using nlohmann::json;

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(float(man), -24);                       // zero / subnormal
  else if (exp == 31) v = man ? std::numeric_limits<float>::quiet_NaN() : INFINITY;
  else v = std::ldexp(float(man | 0x400), int(exp) - 25);
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits |= sign;
  std::memcpy(&v, &bits, 4);
  return v;
}

const json& field(const json& j, const char* key, const std::string& where) {
  check(j.is_object() && j.contains(key), "tfjs", where, ": missing field '", key, "'");
  return j.at(key);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  check(bool(f), "tfjs", "cannot open ", path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TfjsModel parse_tfjs_model(std::string_view model_json,
                           const std::function<std::string(const std::string&)>& read_shard,
                           const std::string& source) {
  json j;
  try {
    j = json::parse(model_json);
  } catch (const json::exception& e) {
    throw Error(detail::concat("[tfjs] ", source, ": not JSON (", e.what(), ")"));
  }
  TfjsModel model;
  model.model_json = std::string(model_json);
  check(j.is_object(), "tfjs", source, ": expected an object at the top");
  field(j, "modelTopology", source);
  const json& manifest = field(j, "weightsManifest", source);
  check(manifest.is_array(), "tfjs", source, ": weightsManifest must be an array");
  for (size_t g = 0; g < manifest.size(); ++g) {
    const std::string gw = detail::concat(source, ": weightsManifest[", g, "]");
    const json& paths = field(manifest[g], "paths", gw);
    const json& weights = field(manifest[g], "weights", gw);
    check(paths.is_array() && weights.is_array(), "tfjs", gw, ": paths and weights must be arrays");
    std::string bytes;
    for (const json& p : paths) {
      check(p.is_string(), "tfjs", gw, ": paths must be strings");
      const std::string path = p.get<std::string>();
      check(path.find("..") == std::string::npos && !path.empty() && path[0] != '/', "tfjs", gw,
            ": shard path '", path, "' must be relative and stay in the model directory");
      bytes += read_shard(path);
    }
    size_t at = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      const json& w = weights[i];
      const std::string ww = detail::concat(gw, ".weights[", i, "]");
      const json& name = field(w, "name", ww);
      check(name.is_string(), "tfjs", ww, ": name must be a string");
      const std::string key = name.get<std::string>();
      const std::string wn = detail::concat(source, ": weight '", key, "'");
      const json& shape_j = field(w, "shape", wn);
      const json& dtype_j = field(w, "dtype", wn);
      check(shape_j.is_array() && shape_j.size() <= 8, "tfjs", wn, ": shape must be an array of <= 8 dims");
      check(dtype_j.is_string(), "tfjs", wn, ": dtype must be a string");
      Shape shape;
      uint64_t n = 1;
      for (const json& d : shape_j) {
        check(d.is_number_integer() && d.get<int64_t>() >= 0 && d.get<int64_t>() <= (int64_t(1) << 31),
              "tfjs", wn, ": shape entries must be integers in [0, 2^31]; got ", d.dump());
        n *= uint64_t(d.get<int64_t>());
        check(n <= (uint64_t(1) << 31), "tfjs", wn, ": more than 2^31 elements");
        shape.push_back(d.get<int64_t>());
      }
      const std::string dtype = dtype_j.get<std::string>();
      check(dtype == "float32" || dtype == "int32", "tfjs", wn, ": dtype '", dtype,
            "' is not supported; expected float32 or int32");
      std::string qtype;
      double qscale = 1, qmin = 0;
      if (w.contains("quantization") && !w.at("quantization").is_null()) {
        const json& q = w.at("quantization");
        const json& qd = field(q, "dtype", wn + ".quantization");
        check(qd.is_string(), "tfjs", wn, ": quantization.dtype must be a string");
        qtype = qd.get<std::string>();
        check(qtype == "uint8" || qtype == "uint16" || qtype == "float16", "tfjs", wn,
              ": quantization dtype '", qtype, "' is not supported; expected uint8, uint16 or float16");
        if (qtype != "float16") {
          const json& s = field(q, "scale", wn + ".quantization");
          const json& m = field(q, "min", wn + ".quantization");
          check(s.is_number() && m.is_number() && std::isfinite(s.get<double>()) &&
                    std::isfinite(m.get<double>()),
                "tfjs", wn, ": quantization scale and min must be finite numbers");
          qscale = s.get<double>();
          qmin = m.get<double>();
        }
      }
      const size_t elem = qtype == "uint8" ? 1 : (qtype == "uint16" || qtype == "float16") ? 2 : 4;
      const uint64_t need = n * elem;
      check(need <= bytes.size() - at, "tfjs", wn, ": the shards end early; need ", need,
            " bytes at offset ", at, ", have ", bytes.size() - at);
      std::vector<float> v(n);
      const auto* p = reinterpret_cast<const uint8_t*>(bytes.data() + at);
      for (uint64_t k = 0; k < n; ++k) {
        if (qtype == "uint8") {
          v[k] = float(p[k] * qscale + qmin);
        } else if (qtype == "uint16" || qtype == "float16") {
          uint16_t u;
          std::memcpy(&u, p + 2 * k, 2);
          v[k] = qtype == "uint16" ? float(u * qscale + qmin) : half_to_float(u);
        } else if (dtype == "int32") {
          int32_t u;
          std::memcpy(&u, p + 4 * k, 4);
          v[k] = float(u);
        } else {
          std::memcpy(&v[k], p + 4 * k, 4);
        }
      }
      at += need;
      check(!model.weights.count(key), "tfjs", wn, ": duplicate weight name");
      model.weights.emplace(key, Tensor::from_vector(v, shape));
    }
    check(at == bytes.size(), "tfjs", gw, ": the shards hold ", bytes.size(),
          " bytes but the weights use ", at);
  }
  return model;
}

TfjsModel load_tfjs_model(const std::string& dir) {
  const std::string json_path = dir + "/model.json";
  return parse_tfjs_model(
      read_file(json_path), [&](const std::string& p) { return read_file(dir + "/" + p); }, json_path);
}

}  // namespace kinema
