// Signing identities: the local kinema CA + leaf created on first use, or the user's own key
// and certificate chain. ES256 (ECDSA P-256, SHA-256) only.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/c2pa/bytes.hpp"
#include "kinema/c2pa.hpp"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace kinema::c2pa {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
struct X509Deleter {
  void operator()(X509* x) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

struct Signer {
  PkeyPtr key;
  std::vector<Bytes> chain_der;  // leaf first; never the root
};

// config_dir if set, else $KINEMA_CONFIG_DIR, $XDG_CONFIG_HOME/kinema, ~/.config/kinema.
std::string resolve_config_dir(const std::string& config_dir);
// Loads the user's key/cert, or the local identity (created when absent).
Signer load_signer(const SigningIdentity& id);
// The local root CA of a config dir, or null when none exists yet.
X509Ptr load_local_root(const std::string& config_dir);

Bytes es256_sign(EVP_PKEY* key, const Bytes& message);  // raw r‖s, 64 bytes
bool es256_verify(EVP_PKEY* key, const Bytes& message, const Bytes& raw_signature);

X509Ptr parse_der_cert(const Bytes& der);
std::string cert_subject(X509* cert);
std::string cert_issuer(X509* cert);

// Checks what C2PA requires of a signing certificate (C2PA-NOTES.md "Certificates").
// Appends failure codes with detail to failures.
void check_signing_cert(X509* cert, std::vector<std::string>& failures);

}  // namespace kinema::c2pa
