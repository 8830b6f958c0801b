// API keys: random, shown once, stored only as a keyed BLAKE2b hash. A key is 256 random bits,
// so a fast keyed hash is as good as a password hash here (nothing to brute-force) and costs
// microseconds per request; the hash key (DIR/api_keys.secret, mode 0600) keeps a stolen
// database from being checked against guessed keys offline. The keys live in the server's store:
// SQLite under the data directory, or a fleet's PostgreSQL queue.
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "kinema/error.hpp"
#include "kinema/serve.hpp"
#include "serve/job_store.hpp"
#include "serve/random_id.hpp"
#include "serve/service.hpp"

namespace kinema::serve {
namespace {

std::string secret_of(const std::string& data_dir) {
  std::filesystem::create_directories(data_dir);
  const std::string path = data_dir + "/api_keys.secret";
  std::string secret;
  if (std::ifstream in(path, std::ios::binary); in) std::getline(in, secret);
  if (secret.size() == 64) return secret;
  secret = random_hex(32);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << secret << "\n";
    check(bool(out), "keys", "cannot write ", tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, path);
  return secret;
}

}  // namespace

std::string hash_api_key(const std::string& data_dir, const std::string& key) {
  static std::mutex mu;
  static std::map<std::string, std::string> secrets;  // data dir -> secret, read once
  std::string secret;
  {
    std::lock_guard lock(mu);
    auto& s = secrets[data_dir];
    if (s.empty()) s = secret_of(data_dir);
    secret = s;
  }
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(secret.data()), 32);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

std::string create_api_key(const std::string& data_dir, const std::string& owner, const std::string& queue) {
  check(!owner.empty() && owner.size() <= 64 && owner.find_first_of(" \t\r\n\"") == std::string::npos, "keys",
        "the owner must be a name of 1 to 64 characters without spaces or quotes; got '", owner, "'");
  const std::string key = "sk-kinema-" + random_base64url(32);
  std::filesystem::create_directories(data_dir);
  const auto store = open_job_store(queue, data_dir, Recovery::none);
  store->add_key(hash_api_key(data_dir, key), owner, key.substr(0, 16), unix_now());
  return key;
}

std::vector<ApiKeyInfo> list_api_keys(const std::string& data_dir, const std::string& queue) {
  const auto store = open_job_store(queue, data_dir, Recovery::none);
  std::vector<ApiKeyInfo> out;
  for (const auto& k : store->keys()) out.push_back({k.owner, k.prefix, k.created_at});
  return out;
}

int revoke_api_keys(const std::string& data_dir, const std::string& owner, const std::string& queue) {
  return open_job_store(queue, data_dir, Recovery::none)->remove_keys(owner);
}

}  // namespace kinema::serve
