#include <sys/socket.h>

#include <thread>

#include "kinema/error.hpp"
#include "serve/characters.hpp"
#include "serve/expiry.hpp"
#include "serve/service.hpp"

namespace kinema::serve {

struct Server::Impl {
  Impl(ServeOptions o, RendererFactory f)
      : service(std::move(o), std::move(f)),
        sweeper(service.store, service.options.data_dir, retention_seconds(service.options.retention_hours),
                [this] { service.runner.notify(); }) {}
  Service service;
  ExpirySweeper sweeper;
  httplib::Server http;
  std::thread listener;
  int port = 0;
  int listen_fd = -1;
};

namespace {

// Unknown paths, oversized bodies, malformed requests: httplib sets the status and we give the
// body OpenAI's error shape (handlers that answered already are left alone).
void install_error_handling(httplib::Server& http, Service& s) {
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string code = "invalid_request", message = "Bad request.";
    if (res.status == 404) code = "unknown_url", message = "Unknown request URL: " + req.method + " " + req.path + ".";
    if (res.status == 405) code = "method_not_allowed", message = "Method not allowed: " + req.method + " " + req.path + ".";
    if (res.status == 413) code = "request_too_large", message = "The request body is larger than the server allows.";
    if (res.status == 414) code = "uri_too_long", message = "The request URL is too long.";
    ApiError e(res.status, "invalid_request_error", code, "", message);
    send_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, ApiError(500, "server_error", "", "", "internal error"));
  });
  http.set_logger([&s](const httplib::Request&, const httplib::Response& res) {
    std::lock_guard lock(s.http_mu);
    ++s.http_by_status[res.status];
  });
}

}  // namespace

Server::Server(ServeOptions options, RendererFactory factory) {
  check(!options.data_dir.empty(), "serve", "give a data directory (--data DIR)");
  check(options.workers >= 1 && options.workers <= 64, "serve", "--workers must lie in [1, 64]; got ", options.workers);
  check(options.queue_limit >= 1, "serve", "--queue-limit must be at least 1; got ", options.queue_limit);
  impl_ = std::make_unique<Impl>(std::move(options), std::move(factory));
  Service& s = impl_->service;
  const int threads = std::max(4, s.options.http_threads);
  impl_->http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  impl_->http.set_payload_max_length(size_t(s.options.max_body_bytes));
  impl_->http.set_keep_alive_timeout(5);
  impl_->http.set_keep_alive_max_count(1000);  // clients that poll keep their connection
  // Debian's cpp-httplib listens with a backlog of 5: fifty clients connecting at once overflow
  // it and wait a SYN retransmit (one second). Keep the socket to listen again with a deep queue.
  impl_->http.set_socket_options([impl = impl_.get()](int fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl->listen_fd = fd;
  });
  install_error_handling(impl_->http, s);
  add_character_routes(impl_->http, s);  // first: /v1/videos/characters would match /v1/videos/{id}
  add_video_routes(impl_->http, s);
  add_service_routes(impl_->http, s);
  add_page_routes(impl_->http, s);
}

Server::~Server() { stop(); }

void Server::start() {
  Impl& i = *impl_;
  const auto& o = i.service.options;
  if (o.port == 0) {
    i.port = i.http.bind_to_any_port(o.host);
  } else {
    i.port = i.http.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  check(i.port > 0, "serve", "cannot listen on ", o.host, ":", o.port, " (in use, or not an address of this machine)");
  if (i.listen_fd >= 0) ::listen(i.listen_fd, SOMAXCONN);  // Linux: a second listen() sets the backlog
  i.service.runner.start();
  i.sweeper.start();
  i.listener = std::thread([&i] { i.http.listen_after_bind(); });
}

void Server::stop() {
  if (!impl_) return;
  Impl& i = *impl_;
  i.service.stopping = true;
  i.service.runner.notify();
  i.http.stop();
  if (i.listener.joinable() && i.listener.get_id() != std::this_thread::get_id()) i.listener.join();
  i.service.runner.stop();
  i.sweeper.stop();
}

int Server::port() const { return impl_->port; }

}  // namespace kinema::serve
