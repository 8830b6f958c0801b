// Helpers for the server's tests: a Server on a free loopback port over a fresh data directory,
// an HTTP client, JSON, and polling a job until it reaches a status.
#pragma once
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "temp_dir.hpp"
#include "kinema/serve.hpp"

namespace kinema::serve::test {

using nlohmann::json;
namespace fs = std::filesystem;

// A new directory for each call (removed when the test process exits).
inline fs::path fresh_dir(const std::string& name) {
  static int n = 0;
  return kinema::test::process_temp_dir("kinema_serve_" + name + "_" + std::to_string(++n));
}

struct Running {
  std::unique_ptr<Server> server;
  std::unique_ptr<httplib::Client> client;
  std::string key;  // Bearer key sent by default ("" = none)

  Running(ServeOptions o, RendererFactory f) {
    o.host = "127.0.0.1", o.port = 0;
    server = std::make_unique<Server>(o, std::move(f));
    server->start();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_read_timeout(20, 0);
  }
  httplib::Headers headers() const {
    return key.empty() ? httplib::Headers{} : httplib::Headers{{"Authorization", "Bearer " + key}};
  }
  httplib::Result get(const std::string& path) { return client->Get(path.c_str(), headers()); }
  httplib::Result post(const std::string& path, const json& body) {
    return client->Post(path.c_str(), headers(), body.dump(), "application/json");
  }
  httplib::Result del(const std::string& path) { return client->Delete(path.c_str(), headers()); }
  // The job's JSON once its status is `status` (fails the test after `seconds`).
  json wait_for(const std::string& id, const std::string& status, double seconds = 20) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    json v;
    while (std::chrono::steady_clock::now() < end) {
      auto r = get("/v1/videos/" + id);
      if (r && r->status == 200) {
        v = json::parse(r->body);
        if (v["status"] == status) return v;
        if (v["status"] == "failed" || v["status"] == "completed") break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " did not reach '" << status << "': " << v.dump();
    return v;
  }
};

}  // namespace kinema::serve::test
