// FrameClassifier: a Keras functional model (TF.js layers format) run on kinema's ops in NCHW.
// Keras stores conv kernels [kH, kW, C, O] and depthwise kernels [kH, kW, C, M]; kinema's conv2d
// takes PyTorch's [O, C/groups, kH, kW], so a depthwise conv is a grouped conv with groups = C
// and output channel c*M + m (TF's order). BatchNormalization after a conv is folded into it at
// load: y = (conv(x) - mean) * gamma / sqrt(var + eps) + beta. Preprocessing follows nsfwjs 4.x
// (src/index.ts, infer): x / 255, then tf.image.resizeBilinear(..., alignCorners = true).
#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "kinema/frame_review.hpp"
#include "kinema/ops.hpp"

namespace kinema {

using nlohmann::json;

struct FrameClassifier::Layer {
  enum Kind { identity, pad, conv, batchnorm, relu, add, avgpool, flatten, dense } kind = identity;
  std::string name;
  std::vector<std::string> inputs;
  Tensor weight, bias;                 // conv [O, C/g, kH, kW] / dense [O, K]; batchnorm scale, shift [1, C, 1, 1]
  std::vector<int64_t> kernel{1, 1}, stride{1, 1};
  std::array<int64_t, 4> padding{};    // pad layer: top, bottom, left, right
  bool same = false;                   // conv padding "same"
  float max_value = -1;                // ReLU cap (6 in MobileNetV2); < 0 = none
  std::string activation = "linear";   // conv/dense: linear, relu, softmax
};

namespace {

const json& at(const json& j, const char* key, const std::string& where) {
  check(j.is_object() && j.contains(key), "frame_review", where, ": missing '", key, "'");
  return j.at(key);
}

std::vector<int64_t> pair_of(const json& j, const std::string& where) {
  if (j.is_number_integer()) return {j.get<int64_t>(), j.get<int64_t>()};
  check(j.is_array() && j.size() == 2 && j[0].is_number_integer() && j[1].is_number_integer() &&
            j[0].get<int64_t>() > 0 && j[1].get<int64_t>() > 0,
        "frame_review", where, ": expected two positive integers; got ", j.dump());
  return {j[0].get<int64_t>(), j[1].get<int64_t>()};
}

Tensor weight_of(const TfjsModel& m, const std::string& key, size_t ndim) {
  auto it = m.weights.find(key);
  check(it != m.weights.end(), "frame_review", "weight '", key, "' is missing from the manifest");
  check(it->second.ndim() == int(ndim), "frame_review", "weight '", key, "' has ", it->second.ndim(),
        " dims; expected ", ndim);
  return it->second;
}

std::string activation_of(const json& cfg, const std::string& where) {
  if (!cfg.contains("activation")) return "linear";
  const std::string a = cfg.at("activation").is_string() ? cfg.at("activation").get<std::string>() : "?";
  check(a == "linear" || a == "relu" || a == "softmax", "frame_review", where, ": activation '", a,
        "' is not supported; expected linear, relu or softmax");
  return a;
}

Tensor relu_capped(const Tensor& x, float cap) {
  Tensor r = relu(x);
  return cap < 0 ? r : sub(r, relu(add_scalar(r, -cap)));  // min(max(x, 0), cap)
}

FrameClassifier::Layer parse_layer(const json& l, const TfjsModel& m, int64_t* input_size) {
  FrameClassifier::Layer out;
  out.name = at(l, "name", "layer").get<std::string>();
  const std::string cls = at(l, "class_name", out.name).get<std::string>();
  const json& cfg = at(l, "config", out.name);
  const std::string where = out.name + " (" + cls + ")";
  const json& inbound = at(l, "inbound_nodes", out.name);
  check(inbound.is_array() && inbound.size() <= 1, "frame_review", where, ": shared layers are not supported");
  if (!inbound.empty())
    for (const json& e : inbound[0]) {
      check(e.is_array() && !e.empty() && e[0].is_string(), "frame_review", where, ": bad inbound node");
      out.inputs.push_back(e[0].get<std::string>());
    }
  if (cls == "InputLayer") {
    const json& s = at(cfg, "batch_input_shape", where);
    check(s.is_array() && s.size() == 4 && s[1].is_number_integer() && s[1] == s[2] && s[3] == 3,
          "frame_review", where, ": expected input [null, S, S, 3]; got ", s.dump());
    *input_size = s[1].get<int64_t>();
  } else if (cls == "ZeroPadding2D") {
    out.kind = FrameClassifier::Layer::pad;
    const json& p = at(cfg, "padding", where);
    check(p.is_array() && p.size() == 2 && p[0].is_array() && p[1].is_array() && p[0].size() == 2 &&
              p[1].size() == 2,
          "frame_review", where, ": expected padding [[top, bottom], [left, right]]; got ", p.dump());
    out.padding = {p[0][0].get<int64_t>(), p[0][1].get<int64_t>(), p[1][0].get<int64_t>(), p[1][1].get<int64_t>()};
  } else if (cls == "Conv2D" || cls == "DepthwiseConv2D") {
    out.kind = FrameClassifier::Layer::conv;
    out.kernel = pair_of(at(cfg, "kernel_size", where), where);
    out.stride = pair_of(at(cfg, "strides", where), where);
    const std::string padding = at(cfg, "padding", where).get<std::string>();
    check(padding == "same" || padding == "valid", "frame_review", where, ": padding '", padding, "'");
    out.same = padding == "same";
    auto dil = pair_of(cfg.value("dilation_rate", json::array({1, 1})), where);
    check(dil[0] == 1 && dil[1] == 1, "frame_review", where, ": dilation is not supported");
    out.activation = activation_of(cfg, where);
    Tensor k;
    if (cls == "Conv2D") {
      k = weight_of(m, out.name + "/kernel", 4);                          // [kH, kW, C, O]
      out.weight = contiguous(permute(k, {3, 2, 0, 1}));                  // [O, C, kH, kW]
    } else {
      k = weight_of(m, out.name + "/depthwise_kernel", 4);                // [kH, kW, C, M]
      Tensor w = contiguous(permute(k, {2, 3, 0, 1}));                    // [C, M, kH, kW]
      out.weight = reshape(w, {k.size(2) * k.size(3), 1, k.size(0), k.size(1)});  // [C*M, 1, kH, kW]
    }
    check(k.size(0) == out.kernel[0] && k.size(1) == out.kernel[1], "frame_review", where,
          ": kernel shape does not match kernel_size");
    if (cfg.value("use_bias", false)) {
      out.bias = weight_of(m, out.name + "/bias", 1);
      check(out.bias.size(0) == out.weight.size(0), "frame_review", where, ": bias size");
    }
  } else if (cls == "BatchNormalization") {
    out.kind = FrameClassifier::Layer::batchnorm;
    check(cfg.value("axis", -1) == -1 || cfg.value("axis", -1) == 3, "frame_review", where,
          ": only channel (last) axis batchnorm is supported");
    const float eps = cfg.value("epsilon", 1e-3f);
    std::vector<float> mean = weight_of(m, out.name + "/moving_mean", 1).to_vector();
    std::vector<float> var = weight_of(m, out.name + "/moving_variance", 1).to_vector();
    const size_t c = mean.size();
    std::vector<float> gamma(c, 1.f), beta(c, 0.f);
    if (cfg.value("scale", true)) gamma = weight_of(m, out.name + "/gamma", 1).to_vector();
    if (cfg.value("center", true)) beta = weight_of(m, out.name + "/beta", 1).to_vector();
    check(var.size() == c && gamma.size() == c && beta.size() == c, "frame_review", where,
          ": gamma, beta, mean and variance differ in size");
    std::vector<float> s(c), t(c);
    for (size_t i = 0; i < c; ++i) {
      s[i] = gamma[i] / std::sqrt(var[i] + eps);
      t[i] = beta[i] - mean[i] * s[i];
    }
    out.weight = Tensor::from_vector(s, {1, int64_t(c), 1, 1});
    out.bias = Tensor::from_vector(t, {1, int64_t(c), 1, 1});
  } else if (cls == "ReLU") {
    out.kind = FrameClassifier::Layer::relu;
    check(cfg.value("negative_slope", 0.0) == 0.0 && cfg.value("threshold", 0.0) == 0.0, "frame_review",
          where, ": only negative_slope 0 and threshold 0 are supported");
    if (cfg.contains("max_value") && !cfg.at("max_value").is_null()) {
      check(cfg.at("max_value").is_number() && cfg.at("max_value").get<double>() > 0, "frame_review", where,
            ": max_value must be a positive number or null; got ", cfg.at("max_value").dump());
      out.max_value = cfg.at("max_value").get<float>();
    }
  } else if (cls == "Activation") {
    out.kind = FrameClassifier::Layer::relu;
    check(activation_of(cfg, where) == "relu", "frame_review", where, ": only relu activations");
  } else if (cls == "Add") {
    out.kind = FrameClassifier::Layer::add;
    check(out.inputs.size() >= 2, "frame_review", where, ": Add needs two inputs");
  } else if (cls == "AveragePooling2D" || cls == "GlobalAveragePooling2D") {
    out.kind = FrameClassifier::Layer::avgpool;
    if (cls == "AveragePooling2D") out.kernel = pair_of(at(cfg, "pool_size", where), where);
    else out.kernel = {0, 0};  // the whole plane
  } else if (cls == "Flatten") {
    out.kind = FrameClassifier::Layer::flatten;
  } else if (cls == "Dense") {
    out.kind = FrameClassifier::Layer::dense;
    out.activation = activation_of(cfg, where);
    out.weight = contiguous(transpose(weight_of(m, out.name + "/kernel", 2), 0, 1));  // [O, K]
    if (cfg.value("use_bias", true)) out.bias = weight_of(m, out.name + "/bias", 1);
  } else if (cls == "Dropout") {
    out.kind = FrameClassifier::Layer::identity;  // inference
  } else {
    throw Error(detail::concat("[frame_review] ", where, ": layer class '", cls, "' is not supported"));
  }
  if (out.kind != FrameClassifier::Layer::add && cls != "InputLayer")
    check(out.inputs.size() == 1, "frame_review", where, ": expected one input");
  return out;
}

// Folds each batchnorm into the conv that feeds only it: w' = w * s[o], b' = b * s[o] + t[o].
void fold_batchnorms(std::vector<FrameClassifier::Layer>& layers) {
  std::map<std::string, int> consumers;
  std::map<std::string, FrameClassifier::Layer*> by_name;
  for (auto& l : layers) {
    by_name[l.name] = &l;
    for (auto& i : l.inputs) consumers[i]++;
  }
  for (auto& bn : layers) {
    if (bn.kind != FrameClassifier::Layer::batchnorm) continue;
    auto it = by_name.find(bn.inputs[0]);
    if (it == by_name.end()) continue;
    FrameClassifier::Layer& c = *it->second;
    if (c.kind != FrameClassifier::Layer::conv || c.activation != "linear" || consumers[c.name] != 1) continue;
    const int64_t o = c.weight.size(0);
    check(bn.weight.numel() == o, "frame_review", bn.name, ": ", bn.weight.numel(), " channels after a conv with ", o);
    std::vector<float> w = c.weight.to_vector(), s = bn.weight.to_vector(), t = bn.bias.to_vector();
    std::vector<float> b = c.bias.defined() ? c.bias.to_vector() : std::vector<float>(o, 0.f);
    const int64_t per = c.weight.numel() / o;
    for (int64_t i = 0; i < o; ++i) {
      for (int64_t k = 0; k < per; ++k) w[i * per + k] *= s[i];
      b[i] = b[i] * s[i] + t[i];
    }
    c.weight = Tensor::from_vector(w, c.weight.shape());
    c.bias = Tensor::from_vector(b, {o});
    bn.kind = FrameClassifier::Layer::identity;
    bn.weight = bn.bias = Tensor();
  }
}

Tensor run_layer(const FrameClassifier::Layer& l, const std::vector<Tensor>& in) {
  using L = FrameClassifier::Layer;
  const Tensor& x = in[0];
  switch (l.kind) {
    case L::identity: return x;
    case L::pad:
      return pad(x, {{0, 0}, {0, 0}, {l.padding[0], l.padding[1]}, {l.padding[2], l.padding[3]}});
    case L::conv: {
      check(x.ndim() == 4 && x.size(1) % l.weight.size(1) == 0, "frame_review", l.name, ": input channels");
      Tensor y = x;
      ConvOptions opt;
      opt.stride = l.stride;
      if (l.same) {  // TF "same": total = max((ceil(H/s) - 1) * s + k - H, 0), the extra row after
        int64_t p[4];
        for (int a = 0; a < 2; ++a) {
          const int64_t n = x.size(2 + a), s = l.stride[a], k = l.kernel[a];
          const int64_t total = std::max<int64_t>(((n + s - 1) / s - 1) * s + k - n, 0);
          p[2 * a] = total / 2;
          p[2 * a + 1] = total - total / 2;
        }
        if (p[0] == p[1] && p[2] == p[3]) opt.padding = {p[0], p[2]};
        else y = pad(x, {{0, 0}, {0, 0}, {p[0], p[1]}, {p[2], p[3]}});
      }
      y = conv2d(y, l.weight, l.bias, opt);  // [N, O, H', W']
      if (l.activation == "relu") y = relu(y);
      check(l.activation != "softmax", "frame_review", l.name, ": softmax after a conv");
      return y;
    }
    case L::batchnorm: return add(mul(x, l.weight), l.bias);
    case L::relu: return relu_capped(x, l.max_value);
    case L::add: {
      Tensor y = x;
      for (size_t i = 1; i < in.size(); ++i) y = add(y, in[i]);
      return y;
    }
    case L::avgpool:
      check(x.ndim() == 4 && (l.kernel[0] == 0 || (l.kernel[0] == x.size(2) && l.kernel[1] == x.size(3))),
            "frame_review", l.name, ": only pooling over the whole plane is supported; got pool ", l.kernel[0],
            "x", l.kernel[1], " on ", x.size(2), "x", x.size(3));
      return mean(x, {{2, 3}, l.kernel[0] != 0});  // [N, C, 1, 1], or [N, C] when global
    case L::flatten:
      // Keras flattens channels-last: [N, H, W, C] -> [N, H*W*C]
      return x.ndim() == 4 ? reshape(contiguous(permute(x, {0, 2, 3, 1})), {x.size(0), -1}) : x;
    case L::dense: {
      Tensor y = linear(x, l.weight, l.bias);  // [N, O]
      if (l.activation == "relu") y = relu(y);
      if (l.activation == "softmax") y = softmax(y, -1);
      return y;
    }
  }
  return x;
}

}  // namespace

FrameClassifier::FrameClassifier() = default;
FrameClassifier::~FrameClassifier() = default;
FrameClassifier::FrameClassifier(FrameClassifier&&) noexcept = default;
FrameClassifier& FrameClassifier::operator=(FrameClassifier&&) noexcept = default;

FrameClassifier FrameClassifier::load(const std::string& dir) {
  TfjsModel m = load_tfjs_model(dir);
  const std::string src = dir + "/model.json";
  FrameClassifier fc;
  try {
    json j = json::parse(m.model_json);
    const json& topo = j.at("modelTopology");
    const json& config = topo.contains("model_config") ? topo.at("model_config").at("config") : topo.at("config");
    const json& layers = at(config, "layers", src);
    check(layers.is_array() && !layers.empty(), "frame_review", src, ": no layers");
    std::set<std::string> seen;
    for (const json& l : layers) {
      fc.layers_.push_back(parse_layer(l, m, &fc.input_size_));
      for (const auto& i : fc.layers_.back().inputs)
        check(seen.count(i), "frame_review", src, ": layer '", fc.layers_.back().name, "' reads '", i,
              "' before it is defined");
      seen.insert(fc.layers_.back().name);
    }
    const json& outs = at(config, "output_layers", src);
    check(outs.is_array() && outs.size() == 1 && outs[0].is_array() && outs[0][0].is_string(), "frame_review",
          src, ": expected one output layer");
    fc.output_ = outs[0][0].get<std::string>();
    check(seen.count(fc.output_), "frame_review", src, ": output layer '", fc.output_, "' is not defined");
  } catch (const json::exception& e) {
    throw Error(detail::concat("[frame_review] ", src, ": malformed topology (", e.what(), ")"));
  }
  check(fc.input_size_ > 1 && fc.input_size_ <= 4096, "frame_review", src, ": input size ", fc.input_size_);
  fold_batchnorms(fc.layers_);
  return fc;
}

FrameClassifier FrameClassifier::load_default() {
  if (const char* env = std::getenv("KINEMA_NSFW_MODEL"); env && *env) return load(env);
#ifdef KINEMA_NSFW_MODEL_DEFAULT
  return load(KINEMA_NSFW_MODEL_DEFAULT);
#else
  throw Error("[frame_review] no default model; set KINEMA_NSFW_MODEL to a TF.js model directory");
#endif
}

Tensor FrameClassifier::forward(const Tensor& x) const {
  check(x.ndim() == 4 && x.size(1) == 3 && x.size(2) == input_size_ && x.size(3) == input_size_, "frame_review",
        "input must be [N, 3, ", input_size_, ", ", input_size_, "]");
  std::map<std::string, Tensor> values;
  for (const Layer& l : layers_) {
    if (l.inputs.empty()) {
      values[l.name] = x;
      continue;
    }
    std::vector<Tensor> in;
    for (const auto& i : l.inputs) in.push_back(values.at(i));
    values[l.name] = run_layer(l, in);
  }
  return values.at(output_);
}

// tfjs-backend-cpu ResizeBilinear with alignCorners = true, halfPixelCenters = false: the source
// coordinate of output r is r * (H - 1) / (S - 1); values mix the 4 neighbours (in double, stored f32).
Tensor FrameClassifier::preprocess(const std::vector<RgbImage>& images) const {
  const int64_t s = input_size_;
  std::vector<float> out(images.size() * 3 * s * s);
  for (size_t n = 0; n < images.size(); ++n) {
    const RgbImage& im = images[n];
    check(im.width > 0 && im.height > 0 && im.width <= 16384 && im.height <= 16384 && im.data, "frame_review",
          "image ", n, " is ", im.width, "x", im.height, "; expected 1..16384 on each side with data");
    auto px = [&](int64_t y, int64_t x, int c) { return float(im.data[(y * im.width + x) * 3 + c]) / 255.f; };
    float* dst = out.data() + n * 3 * s * s;
    const bool same = im.width == s && im.height == s;
    const double hs = (s > 1 ? double(im.height - 1) : double(im.height)) / double(s > 1 ? s - 1 : s);
    const double ws = (s > 1 ? double(im.width - 1) : double(im.width)) / double(s > 1 ? s - 1 : s);
    for (int64_t r = 0; r < s; ++r)
      for (int64_t q = 0; q < s; ++q)
        for (int c = 0; c < 3; ++c) {
          float v;
          if (same) {
            v = px(r, q, c);
          } else {
            const double sr = hs * double(r), sc = ws * double(q);
            const int64_t r0 = std::min<int64_t>(im.height - 1, int64_t(std::floor(sr)));
            const int64_t r1 = std::min<int64_t>(im.height - 1, int64_t(std::ceil(sr)));
            const int64_t c0 = std::min<int64_t>(im.width - 1, int64_t(std::floor(sc)));
            const int64_t c1 = std::min<int64_t>(im.width - 1, int64_t(std::ceil(sc)));
            const double fr = sr - double(r0), fc = sc - double(c0);
            const double top = px(r0, c0, c) + (px(r0, c1, c) - double(px(r0, c0, c))) * fc;
            const double bot = px(r1, c0, c) + (px(r1, c1, c) - double(px(r1, c0, c))) * fc;
            v = float(top + (bot - top) * fr);
          }
          dst[(c * s + r) * s + q] = v;  // [3, S, S]
        }
  }
  return Tensor::from_vector(out, {int64_t(images.size()), 3, s, s});
}

std::array<float, kNsfwClasses> FrameClassifier::classify(const RgbImage& image) const {
  std::vector<float> p = forward(preprocess({image})).to_vector();
  check(p.size() == kNsfwClasses, "frame_review", "the model gives ", p.size(), " outputs; expected 5");
  std::array<float, kNsfwClasses> out{};
  for (int i = 0; i < kNsfwClasses; ++i) out[i] = p[i];
  return out;
}

const char* nsfw_class_name(NsfwClass c) {
  static const char* names[] = {"Drawing", "Hentai", "Neutral", "Porn", "Sexy"};
  const int i = int(c);
  return i >= 0 && i < kNsfwClasses ? names[i] : "?";
}

}  // namespace kinema
