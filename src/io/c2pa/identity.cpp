#include "io/c2pa/identity.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "kinema/error.hpp"

namespace kinema::c2pa {
namespace fs = std::filesystem;

void PkeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void X509Deleter::operator()(X509* x) const { X509_free(x); }

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

constexpr const char* kRootCert = "root-ca.pem";
constexpr const char* kRootKey = "root-ca.key.pem";
constexpr const char* kLeafCert = "signer.pem";
constexpr const char* kLeafKey = "signer.key.pem";

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  check(ext != nullptr, "c2pa identity", "cannot build extension ", OBJ_nid2sn(nid), "=", value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A v3 certificate for key, signed by issuer_key (self-signed when issuer is null).
X509Ptr make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                  bool is_ca) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);  // v3
  Bytes serial = random_bytes(16);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial.data(), int(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -24 * 3600);
  X509_time_adj_ex(X509_getm_notAfter(x.get()), 365 * 30, 0, nullptr);  // no TSA: long validity
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("kinema local"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  if (is_ca) {
    add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    add_ext(x.get(), &ctx, NID_ext_key_usage, "emailProtection");
  }
  add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  check(X509_sign(x.get(), issuer_key, EVP_sha256()) > 0, "c2pa identity", "cannot sign certificate ", cn);
  return x;
}

void write_pem(const fs::path& path, EVP_PKEY* key, X509* cert) {
  BioPtr bio(BIO_new_file(path.c_str(), "wb"));
  check(bio != nullptr, "c2pa identity", "cannot create '", path.string(), "'");
  bool ok = key ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1
                : PEM_write_bio_X509(bio.get(), cert) == 1;
  check(ok, "c2pa identity", "cannot write '", path.string(), "'");
  if (key) ::chmod(path.c_str(), 0600);
}

PkeyPtr new_p256_key() {
  PkeyPtr k(EVP_EC_gen("P-256"));
  check(k != nullptr, "c2pa identity", "cannot generate a P-256 key");
  return k;
}

// Creates root CA + leaf in a fresh folder, then renames it into place (atomic: a concurrent
// first use keeps whichever identity landed first).
void create_local_identity(const fs::path& dir) {
  fs::create_directories(dir.parent_path());
  fs::path tmp = dir.parent_path() / ("c2pa.tmp." + hex(random_bytes(6)));
  fs::create_directories(tmp);
  PkeyPtr root_key = new_p256_key(), leaf_key = new_p256_key();
  X509Ptr root = make_cert(root_key.get(), "kinema local root CA", nullptr, root_key.get(), true);
  X509Ptr leaf = make_cert(leaf_key.get(), "kinema local signer", root.get(), root_key.get(), false);
  write_pem(tmp / kRootCert, nullptr, root.get());
  write_pem(tmp / kRootKey, root_key.get(), nullptr);
  write_pem(tmp / kLeafCert, nullptr, leaf.get());
  write_pem(tmp / kLeafKey, leaf_key.get(), nullptr);
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);
}

PkeyPtr read_key(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "rb"));
  check(bio != nullptr, "c2pa identity", "cannot open key '", path, "'");
  PkeyPtr k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  check(k != nullptr, "c2pa identity", "'", path, "' holds no PEM private key");
  char group[64] = {};
  size_t len = 0;
  bool p256 = EVP_PKEY_get_base_id(k.get()) == EVP_PKEY_EC &&
              EVP_PKEY_get_group_name(k.get(), group, sizeof(group), &len) == 1 &&
              std::string(group) == "prime256v1";
  check(p256, "c2pa identity", "key '", path, "' is not ECDSA P-256; got ", group[0] ? group : "another type",
        ", expected P-256 (ES256)");
  return k;
}

std::vector<X509Ptr> read_certs(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "rb"));
  check(bio != nullptr, "c2pa identity", "cannot open certificate '", path, "'");
  std::vector<X509Ptr> certs;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(c);
  check(!certs.empty(), "c2pa identity", "'", path, "' holds no PEM certificate");
  return certs;
}

Bytes to_der(X509* cert) {
  int n = i2d_X509(cert, nullptr);
  check(n > 0, "c2pa identity", "cannot encode a certificate");
  Bytes der(size_t(n), 0);
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

}  // namespace

std::string resolve_config_dir(const std::string& config_dir) {
  if (!config_dir.empty()) return config_dir;
  if (const char* k = std::getenv("KINEMA_CONFIG_DIR"); k && *k) return k;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/kinema";
  const char* home = std::getenv("HOME");
  check(home && *home, "c2pa identity", "no config directory: set KINEMA_CONFIG_DIR, XDG_CONFIG_HOME or HOME");
  return std::string(home) + "/.config/kinema";
}

Signer load_signer(const SigningIdentity& id) {
  std::string key_path = id.key_pem, cert_path = id.cert_pem;
  check(key_path.empty() == cert_path.empty(), "c2pa identity",
        "give both a signing key and a certificate; got key '", key_path, "' and cert '", cert_path, "'");
  if (key_path.empty()) {
    fs::path dir = fs::path(resolve_config_dir(id.config_dir)) / "c2pa";
    if (!fs::exists(dir / kLeafKey)) create_local_identity(dir);
    key_path = (dir / kLeafKey).string();
    cert_path = (dir / kLeafCert).string();
  }
  Signer s;
  s.key = read_key(key_path);
  std::vector<X509Ptr> certs = read_certs(cert_path);
  check(X509_check_private_key(certs[0].get(), s.key.get()) == 1, "c2pa identity", "certificate '",
        cert_path, "' does not match key '", key_path, "' (the leaf must come first)");
  for (size_t i = 0; i < certs.size(); ++i) {
    bool self_signed = X509_check_issued(certs[i].get(), certs[i].get()) == X509_V_OK;
    if (i > 0 && self_signed) continue;  // roots stay out of x5chain
    s.chain_der.push_back(to_der(certs[i].get()));
  }
  return s;
}

X509Ptr load_local_root(const std::string& config_dir) {
  fs::path p = fs::path(resolve_config_dir(config_dir)) / "c2pa" / kRootCert;
  std::error_code ec;
  if (!fs::exists(p, ec)) return nullptr;
  return std::move(read_certs(p.string())[0]);
}

Bytes es256_sign(EVP_PKEY* key, const Bytes& message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  check(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(md.get(), nullptr, &len, message.data(), message.size()) == 1,
        "c2pa", "ECDSA signing failed to start");
  Bytes der(len);
  check(EVP_DigestSign(md.get(), der.data(), &len, message.data(), message.size()) == 1, "c2pa",
        "ECDSA signing failed");
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(len));
  check(sig != nullptr, "c2pa", "cannot decode the ECDSA signature");
  Bytes raw(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

bool es256_verify(EVP_PKEY* key, const Bytes& message, const Bytes& raw) {
  if (raw.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(raw.data(), 32, nullptr), BN_bin2bn(raw.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (n <= 0) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  bool ok = EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(md.get(), der, size_t(n), message.data(), message.size()) == 1;
  OPENSSL_free(der);
  return ok;
}

X509Ptr parse_der_cert(const Bytes& der) {
  const unsigned char* p = der.data();
  X509Ptr c(d2i_X509(nullptr, &p, long(der.size())));
  return c;
}

namespace {
std::string name_text(X509_NAME* n) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}
}  // namespace

std::string cert_subject(X509* c) { return name_text(X509_get_subject_name(c)); }
std::string cert_issuer(X509* c) { return name_text(X509_get_issuer_name(c)); }

void check_signing_cert(X509* cert, std::vector<std::string>& failures) {
  if (X509_get_version(cert) != 2) failures.push_back("signingCredential.invalid: not an X.509 v3 certificate");
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0 ||
      X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    failures.push_back("signingCredential.expired: outside its validity period");
  uint32_t ku = X509_get_key_usage(cert);
  if (!(ku & KU_DIGITAL_SIGNATURE) || (ku & KU_KEY_CERT_SIGN))
    failures.push_back("signingCredential.invalid: keyUsage must have digitalSignature and not keyCertSign");
  if (X509_check_ca(cert) != 0) failures.push_back("signingCredential.invalid: the signer is a CA");
  uint32_t xku = X509_get_extended_key_usage(cert);
  if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) || xku == 0 || (xku & XKU_ANYEKU))
    failures.push_back("signingCredential.invalid: extendedKeyUsage missing or anyExtendedKeyUsage");
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC)
    failures.push_back("signingCredential.invalid: not an EC key");
}

}  // namespace kinema::c2pa
