// kinema C2PA content credentials: sign the files kinema writes, and verify any file.
//
// Contracts:
// - sign_file() embeds a C2PA manifest store (claim v2, COSE_Sign1 ES256) in MP4 (top-level
//   uuid box, c2pa.hash.bmff.v3), PNG (caBX chunk) and JPEG (APP11), both with
//   c2pa.hash.data; for WebM and GIF, which C2PA cannot embed into, it writes `<path>.c2pa`.
// - The manifest records: c2pa.actions.v2 with one c2pa.created action
//   (digitalSourceType trainedAlgorithmicMedia), the claim generator (kinema + version) and a
//   `org.kinema.generation` assertion with model name/digest, seed, sampler settings and, only
//   when record_prompt is set, the prompt (off by default: privacy).
// - The signer is the user's key/cert when given, otherwise a local identity (root CA + leaf
//   signing certificate) created on first use under the config directory:
//   SigningIdentity::config_dir, else $KINEMA_CONFIG_DIR, else $XDG_CONFIG_HOME/kinema, else
//   ~/.config/kinema. Files land in <dir>/c2pa/.
// - verify_file() never throws for a malformed manifest (that is `invalid`); it throws
//   kinema::Error only when the file itself cannot be read.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kinema {

struct SigningIdentity {
  std::string key_pem;     // path to a PEM private key (P-256); empty: local identity
  std::string cert_pem;    // path to the PEM certificate chain (leaf first) for key_pem
  std::string config_dir;  // where the local identity lives; empty: see above
};

struct Provenance {
  std::string generator_name = "kinema";
  std::string generator_version;  // empty: this build's version
  std::string title;              // dc:title; empty: the file name
  std::string model_name, model_hash;  // model_hash is recorded as model.digest
  uint64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> sampler;  // e.g. {"steps","30"}, {"cfg","5"}
  std::string prompt;
  bool record_prompt = false;  // the prompt is recorded only when this is set
  SigningIdentity signer;
};

// Signs a finished media file in place (or writes its sidecar). Throws kinema::Error.
void sign_file(const std::string& path, const Provenance& provenance);

// Path of the sidecar manifest for path (`<path>.c2pa`).
std::string sidecar_path(const std::string& path);

enum class CredentialStatus { valid, invalid, none };

struct VerifyReport {
  CredentialStatus status = CredentialStatus::none;
  std::string manifest_label;
  std::string claim_generator;  // "kinema 0.1.0"
  std::string signer;           // leaf certificate subject
  std::string issuer;           // leaf certificate issuer
  std::string signed_at;        // the c2pa.created action's `when`
  std::string title;
  std::string generation_json;  // the org.kinema.generation assertion as JSON (if present)
  bool trusted = false;         // chain ends at the local kinema root CA of this config dir
  std::vector<std::string> failures;  // C2PA status codes with detail, e.g. "assertion.dataHash.mismatch"
  std::vector<std::string> notes;     // informational, e.g. "signingCredential.untrusted"
  std::string source;                 // where the manifest came from: embedded / sidecar path
};

struct VerifyOptions {
  std::string config_dir;  // local trust anchor location (same lookup as SigningIdentity)
};

VerifyReport verify_file(const std::string& path, const VerifyOptions& options = {});

// Deletes the embedded manifest store (or sidecar) of a signed file: used by tests and by
// `kinema verify --strip`. Returns false when there was none.
bool strip_credentials(const std::string& path);

}  // namespace kinema
