// Everything beside the Videos API proper: models, Server-Sent Events of a job's progress,
// health and Prometheus metrics.
#include <sstream>

#include "serve/service.hpp"

namespace kinema::serve {
namespace {

using nlohmann::json;

json model_json(const Service& s, const std::string& id) {
  return {{"id", id}, {"object", "model"}, {"created", s.started_at}, {"owned_by", "kinema"}};
}

// The loaded model under its own name, and the Sora names that map onto it.
std::vector<std::string> model_ids(const Service& s) { return {s.options.model.name, "sora-2", "sora-2-pro"}; }

bool write_event(httplib::DataSink& sink, const std::string& event, const std::string& data) {
  const std::string msg = "event: " + event + "\ndata: " + data + "\n\n";
  return sink.write(msg.data(), msg.size());
}

// Writes the next event of a stream (or a keep-alive comment after 15 s of nothing); false ends
// the connection.
bool next_event(Service& s, const std::string& id, std::string& last, httplib::DataSink& sink) {
  if (s.stopping) return false;
  const uint64_t seen = s.runner.events();
  const auto job = s.store.get(id);
  if (!job) {
    write_event(sink, "deleted", json_text(json{{"id", id}, {"object", "video.deleted"}, {"deleted", true}}));
    sink.done();
    return true;
  }
  const std::string body = json_text(video_json(*job));
  const bool final = job->status == "completed" || job->status == "failed";
  if (body != last) {
    last = body;
    if (!write_event(sink, final ? job->status : "progress", body)) return false;
  }
  if (final) {
    sink.done();
    return true;
  }
  // Another server of a fleet may be rendering the job: look again every second.
  if (s.runner.wait_event(seen, s.store.shared() ? 1000 : 15000) == seen) {
    const char ping[] = ": keep-alive\n\n";
    return sink.write(ping, sizeof ping - 1);
  }
  return true;
}

// One SSE stream: the video object whenever it changes ("progress"), then "completed",
// "failed" or "deleted", and the stream ends. A comment line keeps idle connections open.
void events(Service& s, const httplib::Request& req, httplib::Response& res) {
  const std::string owner = s.authenticate(req), id = req.matches[1];
  s.owned_job(id, owner);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  auto last = std::make_shared<std::string>();
  res.set_chunked_content_provider("text/event-stream", [&s, id, last](size_t, httplib::DataSink& sink) {
    try {
      return next_event(s, id, *last, sink);
    } catch (const std::exception&) {
      return false;  // outside the handler's guard: end the stream rather than the server
    }
  });
}

void metrics(Service& s, const httplib::Request&, httplib::Response& res) {
  std::ostringstream o;
  const auto counts = s.store.count_by_status();
  const RunnerMetrics m = s.runner.metrics();
  o << "# HELP kinema_queue_length Jobs waiting for a worker.\n# TYPE kinema_queue_length gauge\n"
    << "kinema_queue_length " << counts.at("queued") << "\n"
    << "# HELP kinema_jobs Stored jobs by status.\n# TYPE kinema_jobs gauge\n";
  for (const auto& [status, n] : counts) o << "kinema_jobs{status=\"" << status << "\"} " << n << "\n";
  o << "# HELP kinema_workers_busy Workers rendering now.\n# TYPE kinema_workers_busy gauge\n"
    << "kinema_workers_busy " << s.runner.busy() << "\n"
    << "# HELP kinema_workers Worker threads.\n# TYPE kinema_workers gauge\n"
    << "kinema_workers " << s.options.workers << "\n"
    << "# HELP kinema_render_seconds_total Wall time spent rendering.\n# TYPE kinema_render_seconds_total counter\n"
    << "kinema_render_seconds_total " << m.render_seconds << "\n"
    << "# HELP kinema_renders_total Renders finished (any outcome).\n# TYPE kinema_renders_total counter\n"
    << "kinema_renders_total " << m.renders << "\n"
    << "# HELP kinema_render_failures_total Renders that failed (not refusals).\n"
    << "# TYPE kinema_render_failures_total counter\nkinema_render_failures_total " << m.failures << "\n"
    << "# HELP kinema_render_refusals_total Renders refused by the safety policy.\n"
    << "# TYPE kinema_render_refusals_total counter\nkinema_render_refusals_total " << m.refusals << "\n"
    << "# HELP kinema_render_cancelled_total Renders stopped by DELETE.\n"
    << "# TYPE kinema_render_cancelled_total counter\nkinema_render_cancelled_total " << m.cancelled << "\n"
    << "# HELP kinema_http_requests_total HTTP responses by status code.\n"
    << "# TYPE kinema_http_requests_total counter\n";
  {
    std::lock_guard lock(s.http_mu);
    for (const auto& [code, n] : s.http_by_status) o << "kinema_http_requests_total{code=\"" << code << "\"} " << n << "\n";
  }
  res.set_content(o.str(), "text/plain; version=0.0.4");
}

}  // namespace

void add_service_routes(httplib::Server& server, Service& s) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  server.Get("/v1/models", guarded([&s](Req q, Res r) {
    s.authenticate(q);
    json data = json::array();
    for (const auto& id : model_ids(s)) data.push_back(model_json(s, id));
    send_json(r, {{"object", "list"}, {"data", data}});
  }));
  server.Get(R"(/v1/models/([A-Za-z0-9_.:-]{1,80}))", guarded([&s](Req q, Res r) {
    s.authenticate(q);
    const std::string id = q.matches[1];
    for (const auto& m : model_ids(s))
      if (m == id) return send_json(r, model_json(s, id));
    throw ApiError(404, "invalid_request_error", "model_not_found", "model", "The model '" + id + "' does not exist.");
  }));
  server.Get(R"(/v1/videos/([A-Za-z0-9_-]{1,80})/events)", guarded([&s](Req q, Res r) { events(s, q, r); }));
  server.Get("/healthz", guarded([&s](Req, Res r) {
    send_json(r, {{"status", "ok"}, {"model", s.options.model.name}, {"workers", s.options.workers},
                  {"queue", s.store.count_queued()}});
  }));
  server.Get("/metrics", guarded([&s](Req q, Res r) { metrics(s, q, r); }));
}

}  // namespace kinema::serve
