// libFuzzer target for everything `kinema serve` reads from a client: each input is sent as raw
// bytes over loopback to a live server (HTTP parsing, multipart, JSON bodies, routing, every
// handler) backed by a stand-in renderer that finishes at once. ASan/UBSan catch memory errors;
// a server that stops answering aborts. Build and run: docs/serve.md ("Fuzzing").
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "kinema/serve.hpp"

namespace {

using namespace kinema::serve;

class InstantRenderer : public Renderer {
 public:
  void render(const RenderTask& t, const RenderProgress& progress) override {
    progress(0.5);
    for (const std::string* p : {&t.video_path, &t.thumbnail_path, &t.spritesheet_path}) std::ofstream(*p) << "x";
  }
};

Server* server = nullptr;

// Sends the bytes, half-closes, reads until the server closes; returns the bytes received or
// -1 when it stopped answering.
long exchange(const uint8_t* data, size_t size) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_port = htons(uint16_t(server->port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{60, 0};  // generous: a loaded machine is not a hang
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  for (size_t sent = 0; sent < size;) {
    const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (413, bad request line)
    sent += size_t(n);
  }
  ::shutdown(fd, SHUT_WR);
  long total = 0;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      total = errno == EAGAIN || errno == EWOULDBLOCK ? -1 : total;  // timeout: a hang
      break;
    }
    total += n;
  }
  ::close(fd);
  return total;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = "/tmp/kinema_fuzz_serve_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  ServeOptions o;
  o.data_dir = dir, o.port = 0, o.queue_limit = 1 << 20, o.max_body_bytes = 1 << 20;
  o.model.name = "fuzz", o.model.sizes = {{32, 32}, {48, 32}};
  server = new Server(o, [] { return std::make_unique<InstantRenderer>(); });
  server->start();
  // A completed video, so content, remix and events have something to work on.
  const std::string create = "POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: 19\r\n\r\n{\"prompt\": \"a red\"}";
  exchange(reinterpret_cast<const uint8_t*>(create.data()), create.size());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (exchange(data, size) < 0) {
    std::fprintf(stderr, "kinema serve stopped answering (no reply within 60 s)\n");
    std::abort();
  }
  return 0;
}
