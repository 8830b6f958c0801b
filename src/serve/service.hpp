// What the HTTP handlers share: the options, the job store, the workers and the request
// counters, plus the helpers every handler uses (authentication, JSON answers, the guard that
// turns exceptions into OpenAI error objects). Routes are added by routes_videos.cpp (the Videos
// API) and routes_service.cpp (models, events, health, metrics) and routes_page.cpp (the web page).
#pragma once
#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "kinema/serve.hpp"
#include "serve/api_error.hpp"
#include "serve/job_store.hpp"
#include "serve/runner.hpp"

namespace kinema::serve {

// --retention-hours in whole seconds (at least 1 when positive; 0 = keep forever); throws when
// negative or absurd.
int64_t retention_seconds(double hours);

struct Service {
  Service(ServeOptions o, RendererFactory factory);
  ServeOptions options;
  std::unique_ptr<JobStore> owned_store;  // SQLite under the data directory, or options.queue's store
  JobStore& store;
  Runner runner;
  int64_t started_at = 0;
  std::atomic<bool> stopping{false};
  std::mutex submit_mu;  // limit checks and insert happen together
  std::map<std::string, std::vector<int64_t>> recent_creates;  // owner -> creation times (ms), under submit_mu
  std::mutex http_mu;
  std::map<int, int64_t> http_by_status;

  // The owner of the request's Bearer key ("local" while no key exists); throws ApiError 401.
  std::string authenticate(const httplib::Request& req) const;
  // The job, if it exists and belongs to owner; else ApiError 404 (others' jobs do not exist).
  Job owned_job(const std::string& id, const std::string& owner) const;
  std::string videos_dir() const { return options.data_dir + "/videos"; }
  std::string uploads_dir() const { return options.data_dir + "/uploads"; }
};

// JSON text that never throws: bytes that are not UTF-8 (in an echoed path or value) become
// U+FFFD instead of an exception in the middle of an answer.
std::string json_text(const nlohmann::json& j);

// The Videos API's video object for a job (with kinema's own "kinema" field).
nlohmann::json video_json(const Job& job);
void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200);
void send_error(httplib::Response& res, const ApiError& e);

// Wraps a handler so ApiError, kinema::Error and anything else become error JSON.
httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> handler);

void add_video_routes(httplib::Server& server, Service& service);
void add_service_routes(httplib::Server& server, Service& service);
void add_page_routes(httplib::Server& server, Service& service);  // routes_page.cpp

// API key hashing (api_keys.cpp): keyed BLAKE2b with the data directory's secret, hex.
std::string hash_api_key(const std::string& data_dir, const std::string& key);

}  // namespace kinema::serve
