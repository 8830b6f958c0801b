// `kinema serve`: a local stand-in for OpenAI's Videos API (the discontinued Sora API), so code
// written against the official `openai` client keeps working by changing only its base URL and
// API key (docs/serve.md). Jobs live in SQLite (WAL) under the data directory and survive
// restarts; a bounded queue feeds worker threads that call a Renderer (the model behind the
// queue: tools/kinema's PipelineRenderer in production, anything in tests).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kinema::serve {

// What the model behind the queue can make; requests are mapped onto it.
struct ModelInfo {
  std::string name = "kinema";                 // reported as the video's `model`
  std::vector<std::pair<int, int>> sizes;      // (width, height) the model was trained at
  int fps = 12;
  int frames = 25;                             // default clip length
  int max_frames = 721;                        // the longest clip a job may ask for
};

// One render, resolved: everything the Renderer needs, with the files it must write.
struct RenderTask {
  std::string id;
  std::string prompt, negative;
  int width = 0, height = 0, frames = 0, fps = 0;
  uint64_t seed = 0;
  int steps = 0;                 // 0: the model's
  std::string sampler;           // "": the model's
  float cfg = -1;                // < 0: the model's
  std::string input_reference;   // an uploaded image to animate (frame 0), or ""
  bool loop = false;             // a seamless loop: the last frame leads into the first
  std::string remix_source;      // the source video of a remix or edit (SDEdit from its frames), or ""
  float strength = -1;           // SDEdit strength in [0, 1] (< 0: the renderer's default)
  std::string extend_source;     // the video an extension continues, or ""; then `frames` is the
  int extend_frames = 0;         // total and extend_frames (a multiple of 4) of them are new
  std::string storyboard;        // kinema's storyboard: a JSON list of shots, or ""; then `frames`
  int shot_frames = 0;           // is all shots' and shot_frames the length of a shot without seconds
  std::string join_source;       // kinema's join: the video the extension leads into, or ""; then
  int join_frames = 0;           // the last join_frames of `frames` are that video's
  std::string video_path, thumbnail_path, spritesheet_path;  // to write
  // Where the sampler's state is kept after every step. When the file exists at the start, the
  // render goes on from it (the server was killed mid-render) and makes the frames it would have
  // made uninterrupted; a long video (in chunks) also logs the frames it made in
  // checkpoint_path + ".frames" and goes on from its last chunk. The server removes both when
  // the job ends.
  std::string checkpoint_path;
};

// Called with the fraction done (0..1); throws (any exception) to stop a cancelled render.
using RenderProgress = std::function<void(double fraction)>;

class Renderer {
 public:
  virtual ~Renderer() = default;
  // Writes task.video_path, thumbnail_path and spritesheet_path, or throws kinema::Error
  // (ErrorKind::refused for a policy decision: the job fails with a policy error).
  virtual void render(const RenderTask& task, const RenderProgress& progress) = 0;
};

// Makes one Renderer per worker thread (each worker owns its model copy).
using RendererFactory = std::function<std::unique_ptr<Renderer>()>;

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0: any free port (Server::port() tells which)
  std::string data_dir;            // jobs.sqlite3, videos/, uploads/
  int workers = 1;
  int queue_limit = 32;            // queued jobs at most; more are answered 429 + Retry-After
  int64_t max_body_bytes = 16 << 20;  // request bodies and uploads
  // Connections served at once: a keep-alive connection or an events stream holds one thread.
  int http_threads = 64;
  // Per owner (API key owner): video creations per minute (0 = no limit), and stored videos at
  // most (0 = no limit); over either, 429 (rate_limit_exceeded / insufficient_quota).
  int rate_per_minute = 0;
  int quota = 0;
  // Completed videos' files are kept this long (expires_at = completed_at + retention), then
  // removed by a sweeper; the video object stays. 0 = kept until deleted. Fractions allowed.
  double retention_hours = 168;
  ModelInfo model;
  // Where jobs and API keys live: "" (SQLite in data_dir/jobs.sqlite3), "sqlite:PATH", or a
  // fleet's shared queue "postgresql://USER@HOST[:PORT]/DB[?lease=SECONDS]" (docs/serve.md).
  std::string queue;
};

// The HTTP server with its job store and workers. start() returns once it listens; stop() (or
// the destructor) stops accepting, ends event streams, and lets running renders stop at their next
// progress report (they are queued again when the server next opens the data directory).
class Server {
 public:
  Server(ServeOptions options, RendererFactory factory);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  void start();            // binds (throws kinema::Error when it cannot), starts workers
  void stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// API keys (`kinema keys create`): "sk-kinema-" + 43 random base64url characters. Only a keyed
// BLAKE2b hash of each key is stored in the server's store (ServeOptions::queue: "" = SQLite in
// DIR/jobs.sqlite3); a request's Bearer key is hashed and looked up. While no key exists the
// server accepts requests without one (owner "local").
std::string create_api_key(const std::string& data_dir, const std::string& owner, const std::string& queue = "");
struct ApiKeyInfo { std::string owner, prefix; int64_t created_at = 0; };  // prefix: the key's first 16 characters
std::vector<ApiKeyInfo> list_api_keys(const std::string& data_dir, const std::string& queue = "");
// Removes every key of `owner`; returns how many.
int revoke_api_keys(const std::string& data_dir, const std::string& owner, const std::string& queue = "");

}  // namespace kinema::serve
