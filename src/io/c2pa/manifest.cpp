#include "io/c2pa/manifest.hpp"

#include <filesystem>

#include "io/c2pa/jumbf.hpp"
#include "kinema/error.hpp"

#ifndef KINEMA_VERSION_STRING
#define KINEMA_VERSION_STRING "0.0.0"
#endif

namespace kinema::c2pa {

const uint8_t kC2paUuid[16] = {0xD8, 0xFE, 0xC3, 0xD6, 0x1B, 0x0E, 0x48, 0x3C,
                               0x92, 0x97, 0x58, 0x28, 0x87, 0x7E, 0xC4, 0x81};

namespace {

using V = CborValue;

const char* kTrainedAlgorithmicMedia =
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";

std::string version_of(const Provenance& p) {
  return p.generator_version.empty() ? KINEMA_VERSION_STRING : p.generator_version;
}

V actions_assertion(const Provenance& p) {
  V agent = V::map({{"name", p.generator_name}, {"version", version_of(p)}});
  V created = V::map({{"action", "c2pa.created"},
                      {"digitalSourceType", kTrainedAlgorithmicMedia},
                      {"softwareAgent", agent}});
  return V::map({{"actions", V::array({created})}});
}

V generation_assertion(const ManifestPlan& plan) {
  const Provenance& p = *plan.provenance;
  std::vector<std::pair<V, V>> sampler;
  for (const auto& [k, v] : p.sampler) sampler.emplace_back(k, v);
  std::vector<std::pair<V, V>> m = {
      {"created", plan.when},
      {"generator", V::map({{"name", p.generator_name}, {"version", version_of(p)}})},
      {"model", V::map({{"name", p.model_name}, {"digest", p.model_hash}})},
      {"seed", V::uint(p.seed)},
      {"sampler", V::map(std::move(sampler))},
  };
  if (p.record_prompt) m.emplace_back("prompt", p.prompt);
  return V::map(std::move(m));
}

V binding_assertion(const HardBinding& b) {
  if (b.kind == HardBinding::Kind::bmff) {
    V uuid_match = V::map({{"offset", V::uint(8)}, {"value", V::bstr(Bytes(kC2paUuid, kC2paUuid + 16))}});
    V exclusions = V::array({V::map({{"xpath", "/uuid"}, {"data", V::array({uuid_match})}}),
                             V::map({{"xpath", "/ftyp"}}), V::map({{"xpath", "/mfra"}})});
    return V::map({{"exclusions", exclusions}, {"alg", "sha256"}, {"hash", V::bstr(b.hash)},
                   {"name", "jumbf manifest"}});
  }
  std::vector<V> ex;
  if (b.has_exclusion)
    ex.push_back(V::map({{"start", V::uint(b.exclusion_start)}, {"length", V::uint(b.exclusion_length)}}));
  return V::map({{"exclusions", V::array(std::move(ex))}, {"name", "jumbf manifest"}, {"alg", "sha256"},
                 {"hash", V::bstr(b.hash)}, {"pad", V::bstr({})}});
}

struct Assertion {
  std::string label;
  Bytes box;  // the assertion superbox
};

Assertion make_assertion(const std::string& label, const V& content) {
  return {label, superbox("cbor", label, {box("cbor", cbor_encode(content))})};
}

V hashed_uri(const Assertion& a) {
  Bytes inner(a.box.begin() + 8, a.box.end());  // without the superbox's own header
  return V::map({{"url", "self#jumbf=c2pa.assertions/" + a.label}, {"hash", V::bstr(sha256(inner))}});
}

Bytes cose_sign1(const Signer& s, const Bytes& claim) {
  V x5chain = s.chain_der.size() == 1 ? V::bstr(s.chain_der[0]) : [&] {
    std::vector<V> certs;
    for (const Bytes& c : s.chain_der) certs.push_back(V::bstr(c));
    return V::array(std::move(certs));
  }();
  Bytes prot = cbor_encode(V::map({{V::integer(1), V::integer(-7)}, {V::integer(33), x5chain}}));
  Bytes tbs = cbor_encode(V::array({"Signature1", V::bstr(prot), V::bstr({}), V::bstr(claim)}));
  Bytes sig = es256_sign(s.key.get(), tbs);
  V cose = V::tagged(18, V::array({V::bstr(prot), V::map({{"pad", V::bstr({})}}), V(), V::bstr(sig)}));
  return cbor_encode(cose);
}

}  // namespace

ManifestPlan make_plan(const Provenance& p, const Signer& s, const std::string& media_path) {
  ManifestPlan plan;
  plan.provenance = &p;
  plan.signer = &s;
  plan.label = "urn:c2pa:" + uuid4();
  plan.instance_id = "xmp:iid:" + uuid4();
  plan.when = utc_now_iso8601();
  plan.title = p.title.empty() ? std::filesystem::path(media_path).filename().string() : p.title;
  return plan;
}

Bytes build_store(const ManifestPlan& plan, const HardBinding& binding) {
  const Provenance& p = *plan.provenance;
  std::vector<Assertion> assertions = {
      make_assertion("c2pa.actions.v2", actions_assertion(p)),
      make_assertion(binding.kind == HardBinding::Kind::bmff ? "c2pa.hash.bmff.v3" : "c2pa.hash.data",
                     binding_assertion(binding)),
      make_assertion(kGenerationLabel, generation_assertion(plan)),
  };
  std::vector<V> created;
  std::vector<Bytes> boxes;
  for (const Assertion& a : assertions) created.push_back(hashed_uri(a)), boxes.push_back(a.box);
  V claim = V::map({
      {"instanceID", plan.instance_id},
      {"claim_generator_info", V::map({{"name", p.generator_name}, {"version", version_of(p)}})},
      {"signature", "self#jumbf=/c2pa/" + plan.label + "/c2pa.signature"},
      {"created_assertions", V::array(std::move(created))},
      {"dc:title", plan.title},
      {"alg", "sha256"},
  });
  Bytes claim_bytes = cbor_encode(claim);
  Bytes cose = cose_sign1(*plan.signer, claim_bytes);
  Bytes manifest = superbox("c2ma", plan.label,
                            {superbox("c2as", "c2pa.assertions", boxes),
                             superbox("c2cl", "c2pa.claim.v2", {box("cbor", claim_bytes)}),
                             superbox("c2cs", "c2pa.signature", {box("cbor", cose)})});
  return superbox("c2pa", "c2pa", {manifest});
}

ParsedManifest parse_store(const Bytes& store) {
  check(store.size() >= 8, "c2pa", "manifest store is too short; got ", store.size(), " bytes");
  uint64_t len = get_be(store.data(), 4);
  check(len <= store.size(), "c2pa", "manifest store declares ", len, " bytes; got ", store.size());
  JumbfNode root = parse_superbox(store, 0, size_t(len));
  check(root.type == "c2pa" && root.label == "c2pa", "c2pa",
        "outer JUMBF box is not a C2PA store; got type '", root.type, "' label '", root.label, "'");
  const JumbfNode* active = nullptr;
  for (const JumbfNode& m : root.children)
    if (m.type == "c2ma" || m.type == "c2um") active = &m;  // the last manifest is the active one
  check(active != nullptr, "c2pa", "manifest store holds no manifest");
  ParsedManifest out;
  out.label = active->label;
  for (const JumbfNode& part : active->children) {
    const char* want = part.type == "c2as" ? "c2pa.assertions" : part.type == "c2cs" ? "c2pa.signature" : nullptr;
    check(!want || part.label == want, "c2pa", "manifest part '", part.type, "' has label '", part.label,
          "'; expected '", want ? want : "", "'");
    check(part.type != "c2cl" || part.label == "c2pa.claim.v2" || part.label == "c2pa.claim", "c2pa",
          "claim box has label '", part.label, "'; expected c2pa.claim.v2");
    if (part.type == "c2as") {
      for (const JumbfNode& a : part.children) {
        out.assertion_hash_input[a.label] =
            Bytes(store.begin() + long(a.offset + 8), store.begin() + long(a.offset + a.size));
        for (const auto& [tbox, payload] : a.contents)
          if (tbox == "cbor") out.assertions[a.label] = cbor_decode(payload);
      }
    } else if (part.type == "c2cl") {
      out.claim_label = part.label;
      for (const auto& [tbox, payload] : part.contents)
        if (tbox == "cbor") out.claim_bytes = payload;
    } else if (part.type == "c2cs") {
      for (const auto& [tbox, payload] : part.contents)
        if (tbox == "cbor") out.cose = payload;
    }
  }
  check(!out.claim_bytes.empty(), "c2pa", "manifest '", out.label, "' has no claim");
  check(!out.cose.empty(), "c2pa", "manifest '", out.label, "' has no signature");
  out.claim = cbor_decode(out.claim_bytes);
  const CborValue* sig = out.claim.find("signature");
  std::string want_sig = "self#jumbf=/c2pa/" + out.label + "/c2pa.signature";
  check(sig && sig->is_text() && sig->text == want_sig, "c2pa", "claim signature reference '",
        sig && sig->is_text() ? sig->text : "", "' does not name this manifest; expected '", want_sig, "'");
  return out;
}

}  // namespace kinema::c2pa
