// Building and parsing a C2PA manifest store: claim v2, assertions, COSE_Sign1 (ES256).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/c2pa/bytes.hpp"
#include "io/c2pa/cbor_value.hpp"
#include "io/c2pa/identity.hpp"
#include "kinema/c2pa.hpp"

namespace kinema::c2pa {

// The BMFF extended type of the C2PA uuid box (D8FEC3D6-1B0E-483C-9297-5828877EC481).
extern const uint8_t kC2paUuid[16];
constexpr const char* kGenerationLabel = "org.kinema.generation";

// The hard binding to write: a data hash (PNG/JPEG/sidecar) or a BMFF v3 hash (MP4).
struct HardBinding {
  enum class Kind { data, bmff } kind = Kind::data;
  bool has_exclusion = false;  // data: one exclusion range (the embedded store)
  uint64_t exclusion_start = 0, exclusion_length = 0;
  Bytes hash = Bytes(32, 0);
};

// What stays fixed across the passes that settle sizes and offsets.
struct ManifestPlan {
  const Provenance* provenance = nullptr;
  const Signer* signer = nullptr;
  std::string label;   // urn:c2pa:<uuid4>
  std::string instance_id;
  std::string when;    // ISO 8601 UTC
  std::string title;
};
ManifestPlan make_plan(const Provenance& p, const Signer& s, const std::string& media_path);

Bytes build_store(const ManifestPlan& plan, const HardBinding& binding);

// A parsed active manifest, for verification.
struct ParsedManifest {
  std::string label;
  Bytes claim_bytes;
  CborValue claim;
  std::string claim_label;                // c2pa.claim.v2 / c2pa.claim
  std::map<std::string, Bytes> assertion_hash_input;  // label → superbox minus its 8-byte header
  std::map<std::string, CborValue> assertions;        // label → decoded cbor content
  Bytes cose;
};
// Throws kinema::Error("[c2pa] ...") when the store is malformed.
ParsedManifest parse_store(const Bytes& store);

}  // namespace kinema::c2pa
