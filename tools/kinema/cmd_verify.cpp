// `kinema verify FILE...`: reads and validates C2PA content credentials.
// Exit status: 0 all valid, 3 some invalid (altered or badly signed), 4 some have none
// (invalid wins over none), 1 a file could not be read, 2 usage.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/c2pa.hpp"

namespace kinema::cli {
namespace {

constexpr int kExitInvalid = 3, kExitNone = 4;

void usage() {
  std::printf(
      "usage: kinema verify [options] FILE...\n\n"
      "Checks the C2PA content credentials of each file (embedded in MP4/PNG/JPEG, or the\n"
      "sidecar FILE.c2pa for WebM/GIF): assertion hashes, the signature, the signing\n"
      "certificate and whether the media bytes changed after signing.\n\n"
      "options:\n"
      "  --config-dir DIR  where the local kinema CA lives (default: $KINEMA_CONFIG_DIR,\n"
      "                    $XDG_CONFIG_HOME/kinema, ~/.config/kinema); it is the trust anchor\n"
      "  --quiet           print only the status line\n\n"
      "exit status: 0 valid, 3 invalid, 4 no credentials, 1 unreadable file, 2 usage\n");
}

const char* status_name(CredentialStatus s) {
  return s == CredentialStatus::valid ? "valid" : s == CredentialStatus::invalid ? "INVALID" : "none";
}

void print_report(const std::string& path, const VerifyReport& r, bool quiet) {
  std::printf("%s: %s\n", path.c_str(), status_name(r.status));
  if (quiet || r.status == CredentialStatus::none) return;
  std::printf("  manifest   %s (%s)\n", r.manifest_label.c_str(), r.source.c_str());
  std::printf("  generator  %s\n", r.claim_generator.c_str());
  std::printf("  signed by  %s\n", r.signer.c_str());
  std::printf("  issuer     %s%s\n", r.issuer.c_str(), r.trusted ? " (local kinema CA: trusted)" : "");
  if (!r.signed_at.empty()) std::printf("  created    %s\n", r.signed_at.c_str());
  if (!r.title.empty()) std::printf("  title      %s\n", r.title.c_str());
  if (!r.generation_json.empty()) std::printf("  generation %s\n", r.generation_json.c_str());
  for (const auto& f : r.failures) std::printf("  failure    %s\n", f.c_str());
  for (const auto& n : r.notes) std::printf("  note       %s\n", n.c_str());
  if (r.status == CredentialStatus::valid)
    std::printf("  the media is unchanged since it was signed\n");
}

}  // namespace

int cmd_verify(int argc, char** argv) {
  VerifyOptions opt;
  bool quiet = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      usage();
      return 0;
    } else if (!std::strcmp(argv[i], "--config-dir") && i + 1 < argc) {
      opt.config_dir = argv[++i];
    } else if (!std::strcmp(argv[i], "--quiet")) {
      quiet = true;
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "kinema verify: unknown option '%s'\n", argv[i]);
      return 2;
    } else {
      files.push_back(argv[i]);
    }
  }
  if (files.empty()) {
    usage();
    return 2;
  }
  int worst = 0;
  for (const auto& f : files) {
    VerifyReport r = verify_file(f, opt);
    print_report(f, r, quiet);
    if (r.status == CredentialStatus::invalid) worst = kExitInvalid;
    else if (r.status == CredentialStatus::none && worst == 0) worst = kExitNone;
  }
  return worst;
}

}  // namespace kinema::cli
