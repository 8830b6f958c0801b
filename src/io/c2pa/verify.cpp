// verify_file: finds the manifest store, then checks, in order, the assertion hashes, the
// COSE signature over the claim, the signing certificate, the chain to the local root, and
// the hard binding to the media bytes. Failure codes follow the C2PA status codes.
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>

#include "io/c2pa/containers.hpp"
#include "io/c2pa/manifest.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"

namespace kinema {
namespace fs = std::filesystem;
using namespace c2pa;

namespace {

Bytes file_sha256(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  check(f.good(), "verify", "cannot open '", path, "'");
  Sha256 h;
  std::vector<uint8_t> buf(1 << 20);
  while (f) {
    f.read(reinterpret_cast<char*>(buf.data()), std::streamsize(buf.size()));
    h.update(buf.data(), size_t(f.gcount()));
  }
  return h.finish();
}

std::string text_of(const CborValue* v) { return v && v->is_text() ? v->text : std::string(); }

void check_assertion_uris(const ParsedManifest& m, VerifyReport& r) {
  bool any = false;
  for (const char* list : {"created_assertions", "gathered_assertions", "assertions"}) {
    const CborValue* uris = m.claim.find(list);
    if (!uris || !uris->is_array()) continue;
    for (const CborValue& u : uris->items) {
      any = true;
      std::string url = text_of(u.find("url"));
      const CborValue* hash = u.find("hash");
      std::string label = url.substr(url.rfind('/') + 1);
      auto it = m.assertion_hash_input.find(label);
      if (it == m.assertion_hash_input.end()) {
        r.failures.push_back("assertion.missing: " + url);
      } else if (!hash || !hash->is_bytes() || sha256(it->second) != hash->bytes) {
        r.failures.push_back("assertion.hashedURI.mismatch: " + label);
      }
    }
  }
  if (!any) r.failures.push_back("claim.malformed: the claim lists no assertions");
}

// COSE_Sign1 over the claim; returns the leaf certificate (null when unusable).
X509Ptr check_signature(const ParsedManifest& m, VerifyReport& r) {
  CborValue cose = cbor_decode(m.cose);
  const CborValue* arr = cose.kind == CborValue::Kind::tag && cose.number == 18 ? &cose.items[0] : &cose;
  if (!arr->is_array() || arr->items.size() != 4 || !arr->items[0].is_bytes() || !arr->items[3].is_bytes()) {
    r.failures.push_back("claimSignature.mismatch: not a COSE_Sign1 structure");
    return nullptr;
  }
  CborValue prot = cbor_decode(arr->items[0].bytes);
  const CborValue* alg = prot.find_int(1);
  if (!alg || alg->kind != CborValue::Kind::negint || alg->number != 6) {
    r.failures.push_back("algorithm.unsupported: kinema verifies ES256 (-7) signatures");
    return nullptr;
  }
  const CborValue* chain = prot.find_int(33);
  if (!chain) chain = arr->items[1].find_int(33);
  const CborValue* leaf_der = chain && chain->is_array() && !chain->items.empty() ? &chain->items[0] : chain;
  X509Ptr leaf = leaf_der && leaf_der->is_bytes() ? parse_der_cert(leaf_der->bytes) : nullptr;
  if (!leaf) {
    r.failures.push_back("signingCredential.invalid: no readable x5chain certificate");
    return nullptr;
  }
  Bytes tbs = cbor_encode(CborValue::array(
      {"Signature1", CborValue::bstr(arr->items[0].bytes), CborValue::bstr({}), CborValue::bstr(m.claim_bytes)}));
  if (!es256_verify(X509_get0_pubkey(leaf.get()), tbs, arr->items[3].bytes))
    r.failures.push_back("claimSignature.mismatch: the signature does not match the claim");
  return leaf;
}

void check_binding(const std::string& path, const Container container, const ParsedManifest& m,
                   const Bytes* embedded_file, VerifyReport& r) {
  auto data = m.assertions.find("c2pa.hash.data");
  auto bmff = m.assertions.find("c2pa.hash.bmff.v3");
  if (bmff == m.assertions.end()) bmff = m.assertions.find("c2pa.hash.bmff.v2");
  if (data != m.assertions.end()) {
    std::vector<std::pair<uint64_t, uint64_t>> ex;
    if (const CborValue* list = data->second.find("exclusions"); list && list->is_array())
      for (const CborValue& e : list->items) {
        const CborValue *s = e.find("start"), *l = e.find("length");
        if (s && l && s->kind == CborValue::Kind::uint && l->kind == CborValue::Kind::uint)
          ex.emplace_back(s->number, l->number);
      }
    const CborValue* want = data->second.find("hash");
    Bytes got = embedded_file ? data_hash(*embedded_file, ex) : file_sha256(path);
    if (!embedded_file && !ex.empty()) r.failures.push_back("assertion.dataHash.mismatch: sidecar binding with exclusions");
    else if (!want || !want->is_bytes() || want->bytes != got)
      r.failures.push_back("assertion.dataHash.mismatch: the media bytes changed after signing");
    return;
  }
  if (bmff != m.assertions.end()) {
    if (container != Container::mp4) {
      r.failures.push_back("assertion.bmffHash.mismatch: a BMFF hash on a non-BMFF file");
      return;
    }
    std::vector<BmffExclusion> ex;
    if (const CborValue* list = bmff->second.find("exclusions"); list && list->is_array())
      for (const CborValue& e : list->items) {
        std::string xpath = text_of(e.find("xpath"));
        if (xpath.size() != 5 || xpath[0] != '/') continue;  // only top-level boxes are used here
        BmffExclusion x{xpath.substr(1), {}};
        if (const CborValue* d = e.find("data"); d && d->is_array())
          for (const CborValue& dm : d->items) {
            const CborValue *off = dm.find("offset"), *val = dm.find("value");
            if (off && val && val->is_bytes()) x.data.emplace_back(off->number, val->bytes);
          }
        ex.push_back(std::move(x));
      }
    const CborValue* want = bmff->second.find("hash");
    if (!want || !want->is_bytes() || want->bytes != bmff_hash(path, ex))
      r.failures.push_back("assertion.bmffHash.mismatch: the media bytes changed after signing");
    return;
  }
  r.failures.push_back("claim.hardBindings.missing: no c2pa.hash.data or c2pa.hash.bmff assertion");
}

void describe(const ParsedManifest& m, VerifyReport& r) {
  r.manifest_label = m.label;
  if (const CborValue* g = m.claim.find("claim_generator_info")) {
    const CborValue* info = g->is_array() && !g->items.empty() ? &g->items[0] : g;
    r.claim_generator = text_of(info->find("name")) + " " + text_of(info->find("version"));
  }
  r.title = text_of(m.claim.find("dc:title"));
  if (auto it = m.assertions.find(kGenerationLabel); it != m.assertions.end()) {
    r.generation_json = it->second.to_json();
    r.signed_at = text_of(it->second.find("created"));
  }
  auto actions = m.assertions.find("c2pa.actions.v2");
  if (actions == m.assertions.end()) r.failures.push_back("assertion.missing: c2pa.actions.v2");
}

}  // namespace

VerifyReport verify_file(const std::string& path, const VerifyOptions& options) {
  std::error_code ec;
  check(fs::is_regular_file(path, ec), "verify", "'", path, "' is not a readable file");
  VerifyReport r;
  Container container = container_of(path);
  Bytes file;
  std::optional<FoundStore> found;
  if (container == Container::png || container == Container::jpeg) {
    file = read_file(path, "verify");
    found = container == Container::png ? png_find_store(file) : jpeg_find_store(file);
    r.source = "embedded";
  } else if (container == Container::mp4) {
    found = mp4_find_store(path);
    r.source = "embedded";
  }
  if (!found && fs::is_regular_file(sidecar_path(path), ec)) {
    found = FoundStore{read_file(sidecar_path(path), "verify"), 0, 0};
    r.source = sidecar_path(path);
    container = Container::sidecar;
  }
  if (!found) {
    r.status = CredentialStatus::none;
    return r;
  }
  try {
    ParsedManifest m = parse_store(found->store);
    describe(m, r);
    check_assertion_uris(m, r);
    X509Ptr leaf = check_signature(m, r);
    if (leaf) {
      r.signer = cert_subject(leaf.get());
      r.issuer = cert_issuer(leaf.get());
      check_signing_cert(leaf.get(), r.failures);
      X509Ptr root = load_local_root(options.config_dir);
      r.trusted = root && X509_check_issued(root.get(), leaf.get()) == X509_V_OK &&
                  X509_verify(leaf.get(), X509_get0_pubkey(root.get())) == 1;
      if (!r.trusted) r.notes.push_back("signingCredential.untrusted: the signer is not in the local trust list");
    }
    check_binding(path, container, m, container == Container::sidecar ? nullptr : &file, r);
  } catch (const Error& e) {
    r.failures.push_back(std::string("claim.malformed: ") + e.what());
  }
  r.status = r.failures.empty() ? CredentialStatus::valid : CredentialStatus::invalid;
  return r;
}

}  // namespace kinema
