// `kinema sign FILE...`: adds C2PA content credentials to existing media files (embedded in
// MP4/PNG/JPEG, a FILE.c2pa sidecar otherwise), with the local identity or your own key.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"

namespace kinema::cli {
namespace {

void sign_usage() {
  std::printf(
      "usage: kinema sign [options] FILE...\n\n"
      "Signs each file with C2PA content credentials that say kinema generated it.\n\n"
      "options:\n"
      "  --sign-key PEM     your P-256 private key (with --sign-cert); default: the local\n"
      "                     kinema identity, created on first use under the config dir\n"
      "  --sign-cert PEM    your certificate chain, leaf first\n"
      "  --config-dir DIR   config dir (default $KINEMA_CONFIG_DIR, $XDG_CONFIG_HOME/kinema,\n"
      "                     ~/.config/kinema)\n"
      "  --model NAME       model name to record        --model-hash H   model digest\n"
      "  --seed N           seed to record              --set K=V        sampler setting (repeatable)\n"
      "  --prompt TEXT      record the prompt (off unless given: privacy)\n"
      "  --title TEXT       dc:title (default: the file name)\n");
}

}  // namespace

int cmd_sign(int argc, char** argv) {
  Provenance p;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      check(i + 1 < argc, "kinema sign", "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      sign_usage();
      return 0;
    } else if (a == "--sign-key") {
      p.signer.key_pem = value();
    } else if (a == "--sign-cert") {
      p.signer.cert_pem = value();
    } else if (a == "--config-dir") {
      p.signer.config_dir = value();
    } else if (a == "--model") {
      p.model_name = value();
    } else if (a == "--model-hash") {
      p.model_hash = value();
    } else if (a == "--seed") {
      p.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--set") {
      std::string kv = value();
      size_t eq = kv.find('=');
      check(eq != std::string::npos, "kinema sign", "--set takes KEY=VALUE; got '", kv, "'");
      p.sampler.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--prompt") {
      p.prompt = value();
      p.record_prompt = true;
    } else if (a == "--title") {
      p.title = value();
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "kinema sign: unknown option '%s'\n", a.c_str());
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    sign_usage();
    return 2;
  }
  for (const auto& f : files) {
    sign_file(f, p);
    std::printf("%s: signed\n", f.c_str());
  }
  return 0;
}

}  // namespace kinema::cli
