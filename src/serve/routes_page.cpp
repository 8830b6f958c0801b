// The web page (web/, embedded) and the one endpoint only it needs: a video's content
// credentials as `kinema verify` reads them, for the page's badge.
#include "kinema/c2pa.hpp"
#include "serve/service.hpp"
#include "serve/web_assets.hpp"

namespace kinema::serve {
namespace {

using nlohmann::json;

// The page loads nothing from elsewhere; videos play from blob: URLs made by its own fetches.
constexpr const char* kPolicy =
    "default-src 'self'; media-src 'self' blob:; img-src 'self' blob: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'";

void asset(const httplib::Request& req, httplib::Response& res) {
  const WebAsset* a = find_web_asset(req.path == "/" ? "/index.html" : req.path);
  if (!a) throw ApiError(404, "invalid_request_error", "unknown_url", "", "Unknown request URL: GET " + req.path + ".");
  res.set_header("Content-Security-Policy", kPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-cache");
  res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->content_type);
}

const char* status_name(CredentialStatus s) {
  return s == CredentialStatus::valid ? "valid" : s == CredentialStatus::invalid ? "invalid" : "none";
}

void credentials(Service& s, const httplib::Request& req, httplib::Response& res) {
  const Job j = s.owned_job(req.matches[1], s.authenticate(req));
  if (j.status != "completed")
    throw ApiError(400, "invalid_request_error", "video_not_ready", "", "Video '" + j.id + "' is " + j.status + ".");
  const VerifyReport r = verify_file(s.videos_dir() + "/" + json::parse(j.files).at("video").get<std::string>());
  send_json(res, {{"status", status_name(r.status)}, {"claim_generator", r.claim_generator}, {"signer", r.signer},
                  {"issuer", r.issuer}, {"signed_at", r.signed_at}});
}

}  // namespace

void add_page_routes(httplib::Server& server, Service& s) {
  server.Get(R"(/|/index\.html|/app\.js|/style\.css)", guarded(asset));
  server.Get(R"(/v1/videos/([A-Za-z0-9_-]{1,80})/credentials)",
             guarded([&s](const httplib::Request& q, httplib::Response& r) { credentials(s, q, r); }));
}

}  // namespace kinema::serve
