#include "serve/service.hpp"

#include <cmath>
#include <filesystem>

#include "kinema/error.hpp"

namespace kinema::serve {

using nlohmann::json;

int64_t retention_seconds(double hours) {
  check(hours >= 0 && hours <= 24 * 365 * 100, "serve", "--retention-hours must lie in [0, 876000]; got ", hours);
  return hours > 0 ? std::max<int64_t>(1, int64_t(std::llround(hours * 3600))) : 0;
}

Service::Service(ServeOptions o, RendererFactory factory)
    : options(std::move(o)),
      owned_store(open_job_store(options.queue, options.data_dir)),
      store(*owned_store),
      runner(store, options.data_dir, options.workers, std::move(factory), retention_seconds(options.retention_hours)),
      started_at(unix_now()) {
  std::filesystem::create_directories(options.data_dir);
  std::filesystem::create_directories(videos_dir());
  std::filesystem::create_directories(uploads_dir());
}

std::string Service::authenticate(const httplib::Request& req) const {
  if (store.key_count() == 0) return "local";
  const std::string h = req.get_header_value("Authorization");
  const std::string bearer = "Bearer ";
  if (h.size() <= bearer.size() || h.compare(0, bearer.size(), bearer) != 0)
    throw ApiError(401, "invalid_request_error", "missing_api_key", "",
                   "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' (`kinema keys create`).");
  const auto owner = store.owner_of_key(hash_api_key(options.data_dir, h.substr(bearer.size())));
  if (!owner) throw ApiError(401, "invalid_request_error", "invalid_api_key", "", "Incorrect API key provided.");
  return *owner;
}

Job Service::owned_job(const std::string& id, const std::string& owner) const {
  auto job = store.get(id);
  if (!job || job->owner != owner) throw not_found("No video found with id '" + id + "'.");
  return *job;
}

json video_json(const Job& j) {
  json v = {{"id", j.id}, {"object", "video"}, {"status", j.status}, {"progress", j.progress},
            {"created_at", j.created_at}, {"completed_at", nullptr}, {"expires_at", nullptr},
            {"model", j.model}, {"prompt", j.prompt}, {"seconds", j.seconds}, {"size", j.size},
            {"remixed_from_video_id", nullptr}, {"error", nullptr}};
  if (j.completed_at) v["completed_at"] = j.completed_at;
  if (j.expires_at) v["expires_at"] = j.expires_at;
  if (!j.remixed_from.empty()) v["remixed_from_video_id"] = j.remixed_from;
  if (!j.error_code.empty()) v["error"] = {{"code", j.error_code}, {"message", j.error_message}};
  // What kinema used, beside what was asked (the API's fields hold what was used).
  const json p = json::parse(j.params, nullptr, false);
  if (p.is_object()) {
    json k = {{"width", p.value("width", 0)}, {"height", p.value("height", 0)}, {"frames", p.value("frames", 0)},
              {"fps", p.value("fps", 0)}, {"seed", p.value("seed", uint64_t(0))}};
    if (p.contains("requested")) k["requested"] = p["requested"];
    v["kinema"] = k;
  }
  return v;
}

std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string error_json(const ApiError& e) {
  json err = {{"message", e.what()}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return json_text(json{{"error", err}});
}

void send_json(httplib::Response& res, const json& body, int status) {
  res.status = status;
  res.set_content(json_text(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.retry_after > 0) res.set_header("Retry-After", std::to_string(e.retry_after));
  res.set_content(error_json(e), "application/json");
}

httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, ApiError(500, "server_error", "", "", e.what()));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, "server_error", "", "", std::string("internal error: ") + e.what()));
    }
  };
}

}  // namespace kinema::serve
