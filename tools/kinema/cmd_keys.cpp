// `kinema keys create|list|revoke --data DIR`: API keys of `kinema serve` (docs/serve.md). A key
// is printed once at creation; only its keyed hash is stored.
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/serve.hpp"
#include "option_table.hpp"
#include "serve/job_store.hpp"

namespace kinema::cli {
namespace {

struct KeysCli {
  std::string data, owner = "default", queue;
};

const std::vector<Option<KeysCli>>& options() {
  static const std::vector<Option<KeysCli>> table = {
      {"--data", "DIR", "the server's data directory", KINEMA_OPT_STRING(data)},
      {"--owner", "NAME", "who the key belongs to: jobs are visible to keys of the same owner", KINEMA_OPT_STRING(owner)},
      {"--queue", "URL", "a fleet's shared queue, as given to `kinema serve --queue` (default: $KINEMA_QUEUE)",
       KINEMA_OPT_STRING(queue)},
  };
  return table;
}

void print_help() {
  std::printf(
      "usage: kinema keys create --data DIR [--owner NAME]\n"
      "       kinema keys list --data DIR\n"
      "       kinema keys revoke --data DIR --owner NAME\n\n"
      "Once a key exists, `kinema serve --data DIR` requires 'Authorization: Bearer KEY' on every API\n"
      "request, and each owner sees only its own videos.\n\n");
  print_options(options());
}

}  // namespace

int cmd_keys(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  const std::string action = argv[1];
  KeysCli c;
  if (!parse_options(options(), argc - 1, argv + 1, c, "keys")) return print_help(), 0;
  check(!c.data.empty(), "keys", "give the server's data directory: --data DIR");
  if (c.queue.empty()) c.queue = serve::queue_url_from_env();
  if (action == "create") {
    std::printf("%s\n", serve::create_api_key(c.data, c.owner, c.queue).c_str());
    std::fprintf(stderr, "kinema keys: created a key for '%s'; it is shown only now\n", c.owner.c_str());
    return 0;
  }
  if (action == "list") {
    for (const auto& k : serve::list_api_keys(c.data, c.queue)) {
      char when[32];
      const std::time_t t = k.created_at;
      std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
      std::printf("%-20s %s...  created %s UTC\n", k.owner.c_str(), k.prefix.c_str(), when);
    }
    return 0;
  }
  if (action == "revoke") {
    const int n = serve::revoke_api_keys(c.data, c.owner, c.queue);
    std::printf("revoked %d key%s of '%s'\n", n, n == 1 ? "" : "s", c.owner.c_str());
    return n > 0 ? 0 : 1;
  }
  fail("keys", "unknown action '", action, "'; use create, list or revoke");
}

}  // namespace kinema::cli
