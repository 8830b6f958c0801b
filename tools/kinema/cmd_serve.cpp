// `kinema serve --port 8080 --data DIR`: the local Videos API (OpenAI's Sora API shape) with a
// durable job queue; docs/serve.md. Runs until SIGINT or SIGTERM; running renders are queued
// again at the next start. With --queue postgresql://..., any number of these processes, on any
// hosts sharing --data, work one queue (docs/serve.md, "Fleet").
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/serve.hpp"
#include "mode_cli.hpp"  // default_model_dir
#include "option_table.hpp"
#include "serve/job_store.hpp"
#include "serve_renderer.hpp"

namespace kinema::cli {
namespace {

struct ServeCli {
  serve::ServeOptions serve;
  ServeRenderOptions render;
  int max_body_mb = 16;
};

#define KI KINEMA_OPT_INT
#define KS KINEMA_OPT_STRING
const std::vector<Option<ServeCli>>& options() {
  static const std::vector<Option<ServeCli>> table = {
      {"--port", "N", "TCP port (0: any free port; the chosen one is printed)", KI(serve.port)},
      {"--host", "ADDR", "address to bind; anything but loopback exposes the server (use a TLS proxy)", KS(serve.host)},
      {"--data", "DIR", "jobs database, videos and uploads (created if missing)", KS(serve.data_dir)},
      {"--queue", "URL", "shared job queue of a fleet: postgresql://USER@HOST/DB[?lease=SECONDS] ($KINEMA_QUEUE); "
       "none: SQLite under --data", KS(serve.queue)},
      {"--model", "DIR", "model directory (model.json + weights); default: the shipped model", KS(render.model_dir)},
      {"--workers", "N", "render workers (each loads its own copy of the model)", KI(serve.workers)},
      {"--queue-limit", "N", "queued jobs at most; more are answered 429 with Retry-After", KI(serve.queue_limit)},
      {"--rate-limit", "N", "video creations per minute per key owner (0: no limit)", KI(serve.rate_per_minute)},
      {"--quota", "N", "stored videos per key owner (0: no limit)", KI(serve.quota)},
      {"--retention-hours", "H", "keep completed videos' files this long, then remove them (expires_at; 0: until "
       "deleted; fractions allowed)", KINEMA_OPT_FLOAT(serve.retention_hours)},
      {"--http-threads", "N", "connections served at once (keep-alive connections and event streams hold one)", KI(serve.http_threads)},
      {"--max-body-mb", "N", "largest request body or upload, in MiB", KI(max_body_mb)},
      {"--policy", "FILE", "operator prompt/frame policy (JSON, docs/safety.md); default: the built-in one", KS(render.policy_file)},
      {"--watermark-key", "TEXT", "operator passphrase mixed into the invisible watermark", KS(render.watermark_key)},
      {"--record-prompt", "", "write prompts into the C2PA credentials (off: privacy)", KINEMA_OPT_FLAG(render.record_prompt)},
      {"--no-frame-review", "", "skip the image classifier's review of frames (operators only; docs/safety-frames.md)",
       KINEMA_OPT_FLAG(render.no_frame_review)},
  };
  return table;
}
#undef KI
#undef KS

}  // namespace

int cmd_serve(int argc, char** argv) {
  ServeCli c;
  if (!parse_options(options(), argc, argv, c, "serve")) {
    std::printf(
        "usage: kinema serve --data DIR [--port 8080] [options]\n\n"
        "Serves OpenAI's Videos API (the Sora API) under /v1 with kinema's model: point the official\n"
        "client's baseURL at http://HOST:PORT/v1. Jobs persist in DIR; API keys: `kinema keys create`.\n"
        "The web page is at http://HOST:PORT/. See docs/serve.md.\n\n");
    print_options(options());
    return 0;
  }
  check(!c.serve.data_dir.empty(), "serve", "give a data directory: kinema serve --data DIR");
  check(c.max_body_mb >= 1 && c.max_body_mb <= 4096, "serve", "--max-body-mb must lie in [1, 4096]");
  c.serve.max_body_bytes = int64_t(c.max_body_mb) << 20;
  if (c.serve.queue.empty()) c.serve.queue = serve::queue_url_from_env();
  const std::string& queue = c.serve.queue;
  if (c.render.model_dir.empty()) c.render.model_dir = default_model_dir();
  c.serve.model = serve_model_info(c.render.model_dir);
  // Signals are taken by sigwait below, not by handlers: every thread inherits this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  serve::Server server(c.serve, pipeline_renderer_factory(c.render));
  server.start();
  std::printf("kinema serve: listening on http://%s:%d/ (model %s, %d worker%s, data %s)\n", c.serve.host.c_str(),
              server.port(), c.serve.model.name.c_str(), c.serve.workers, c.serve.workers == 1 ? "" : "s",
              c.serve.data_dir.c_str());
  std::fflush(stdout);
  if (!queue.empty())
    std::fprintf(stderr, "kinema serve: jobs and keys in %s (a fleet's shared queue; this is pid %d)\n",
                 serve::redact_url(queue).c_str(), int(::getpid()));
  const std::string& host = c.serve.host;
  if (serve::list_api_keys(c.serve.data_dir, queue).empty() && host != "127.0.0.1" && host != "::1" && host != "localhost")
    std::fprintf(stderr, "kinema serve: warning: no API keys exist, so anyone who can reach %s may use this server; "
                 "create one with `kinema keys create --data %s`\n", host.c_str(), c.serve.data_dir.c_str());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "kinema serve: stopping (signal %d)\n", sig);
  server.stop();
  return 0;
}

}  // namespace kinema::cli
