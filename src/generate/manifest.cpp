// The model bundle's manifest (model.json) and the SHA-256 that guards each file.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {

std::string sha256_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  check(f.good(), "model", "cannot read ", path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), std::streamsize(buf.size()));
    if (f.gcount() > 0) EVP_DigestUpdate(ctx, buf.data(), size_t(f.gcount()));
  }
  unsigned char md[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < n; ++i) std::snprintf(b, 3, "%02x", md[i]), hex += b;
  return hex;
}

ModelManifest read_manifest(const std::string& path) {
  std::ifstream f(path);
  check(f.good(), "model", "no model manifest at ", path,
        " (a model directory holds model.json and the files it names; the default model is models/default)");
  std::stringstream ss;
  ss << f.rdbuf();
  ModelManifest m;
  try {
    const auto j = nlohmann::json::parse(ss.str());
    m.name = j.at("name").get<std::string>();
    const auto& files = j.at("files");
    auto file = [&](const char* k) {
      return ModelManifest::File{files.at(k).at("path").get<std::string>(),
                                 files.at(k).at("sha256").get<std::string>()};
    };
    m.tokenizer = file("tokenizer"), m.text_encoder = file("text_encoder");
    m.vae = file("vae"), m.dit = file("dit");
    for (const auto& s : j.at("sizes")) m.sizes.emplace_back(s.at(0).get<int>(), s.at(1).get<int>());
    m.fps = j.value("fps", m.fps), m.frames = j.value("frames", m.frames);
    m.steps = j.value("steps", m.steps), m.cfg = j.value("cfg", m.cfg), m.shift = j.value("shift", m.shift);
    m.base_tokens = j.value("base_tokens", m.base_tokens);
    m.guidance_from = j.value("guidance_from", m.guidance_from), m.cfg_high = j.value("cfg_high", m.cfg_high);
    m.guidance_parallel = j.value("guidance_parallel", m.guidance_parallel);
    m.guidance_cap = j.value("guidance_cap", m.guidance_cap);
    m.plan_guidance = j.value("plan_guidance", m.plan_guidance);
    m.sampler = j.value("sampler", m.sampler), m.max_text_len = j.value("max_text_len", m.max_text_len);
  } catch (const nlohmann::json::exception& e) {
    fail("model", path, " is not a valid model manifest: ", e.what());
  }
  check(!m.sizes.empty(), "model", path, " lists no trained sizes");
  check(m.guidance_from >= 0 && m.guidance_from <= 1 && m.cfg_high >= 0, "model", path,
        ": guidance_from must lie in [0, 1] and cfg_high be >= 0; got ", m.guidance_from, " and ", m.cfg_high);
  check(m.guidance_parallel >= 0 && m.guidance_parallel <= 1 && m.guidance_cap >= 0, "model", path,
        ": guidance_parallel must lie in [0, 1] and guidance_cap be >= 0; got ", m.guidance_parallel, " and ",
        m.guidance_cap);
  return m;
}

std::string manifest_json(const ModelManifest& m) {
  nlohmann::ordered_json j;
  j["name"] = m.name;
  auto file = [](const ModelManifest::File& f) { return nlohmann::ordered_json{{"path", f.path}, {"sha256", f.sha256}}; };
  j["files"] = {{"tokenizer", file(m.tokenizer)}, {"text_encoder", file(m.text_encoder)},
                {"vae", file(m.vae)}, {"dit", file(m.dit)}};
  j["sizes"] = nlohmann::ordered_json::array();
  for (const auto& [w, h] : m.sizes) j["sizes"].push_back({w, h});
  j["fps"] = m.fps, j["frames"] = m.frames, j["steps"] = m.steps, j["cfg"] = m.cfg;
  j["shift"] = m.shift, j["base_tokens"] = m.base_tokens, j["sampler"] = m.sampler;
  j["max_text_len"] = m.max_text_len;
  if (m.guidance_from > 0) j["guidance_from"] = m.guidance_from, j["cfg_high"] = m.cfg_high;
  if (m.guidance_parallel != 1.f) j["guidance_parallel"] = m.guidance_parallel;
  if (m.guidance_cap > 0) j["guidance_cap"] = m.guidance_cap;
  if (m.plan_guidance) j["plan_guidance"] = true;
  return j.dump(2) + "\n";
}

void write_model_bundle(const std::string& dir, ModelManifest m, const std::string& tokenizer_bytes,
                        const TensorFile& text_encoder, const TensorFile& vae, const TensorFile& dit) {
  std::filesystem::create_directories(dir);
  auto path = [&](const std::string& name) { return (std::filesystem::path(dir) / name).string(); };
  {
    std::ofstream f(path("tokenizer.model"), std::ios::binary | std::ios::trunc);
    f << tokenizer_bytes;
    check(f.good(), "model", "cannot write ", path("tokenizer.model"));
  }
  save_tensors(path("text_encoder.safetensors"), text_encoder);
  save_tensors(path("vae.safetensors"), vae);
  save_tensors(path("dit.safetensors"), dit);
  auto entry = [&](const char* name) { return ModelManifest::File{name, sha256_file(path(name))}; };
  m.tokenizer = entry("tokenizer.model"), m.text_encoder = entry("text_encoder.safetensors");
  m.vae = entry("vae.safetensors"), m.dit = entry("dit.safetensors");
  std::ofstream f(path("model.json"), std::ios::trunc);
  f << manifest_json(m);
  check(f.good(), "model", "cannot write ", path("model.json"));
}

}  // namespace kinema
