// The official `openai` npm client (pinned in openai_client/package-lock.json, installed by
// scripts/install-deps) against `kinema serve` on a free loopback port, with nothing changed in
// the client but baseURL and apiKey: create (multipart, with an input_reference image), poll,
// download video and thumbnail, list (auto-paging), remix, edit, extend, delete, and a 404 as
// NotFoundError.
#include <array>
#include <cstdio>
#include <cstdlib>

#include "kinema/c2pa.hpp"
#include "kinema/media.hpp"
#include "serve_renderer.hpp"
#include "serve_test_util.hpp"
#include "tiny_model_server.hpp"
#include "tiny_bundle.hpp"

namespace kinema::serve::test {
namespace {

const std::string kClientDir = std::string(KINEMA_SOURCE_DIR) + "/tests/serve/openai_client";

TEST(OpenAIClient, TheOfficialClientRunsItsVideoCallsAgainstKinemaServe) {
  ASSERT_TRUE(fs::exists(kClientDir + "/node_modules/openai/package.json"))
      << "the openai npm package is missing: run scripts/install-deps";
  const fs::path dir = fresh_dir("openai");
  TinyModelServer tiny = tiny_model_server(dir);
  cli::ServeRenderOptions& ro = tiny.render;
  ServeOptions& o = tiny.options;
  const std::string key = create_api_key(o.data_dir, "client-test");
  Running s(o, cli::pipeline_renderer_factory(ro));

  Frame ref{48, 32, std::vector<uint8_t>(48 * 32 * 3, 200)};
  write_image((dir / "ref.png").string(), ref);
  const std::string cmd = "cd '" + kClientDir + "' && KINEMA_BASE_URL=http://127.0.0.1:" +
                          std::to_string(s.server->port()) + "/v1 KINEMA_API_KEY='" + key + "' KINEMA_REF_IMAGE='" +
                          (dir / "ref.png").string() + "' KINEMA_OUT_DIR='" + dir.string() + "' node client.mjs 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = ::pclose(p);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"ok\":true"), std::string::npos) << out;
  std::printf("%s", out.c_str());
  // What the client downloaded is a signed video of the mapped size.
  EXPECT_EQ(verify_file((dir / "client_video.mp4").string()).status, CredentialStatus::valid);
  const std::vector<Frame> frames = read_video((dir / "client_video.mp4").string());
  EXPECT_EQ(frames.size(), 49u);
  EXPECT_EQ(frames[0].width, 48);
  // The extension holds the source's 49 frames and 48 new ones, signed.
  EXPECT_EQ(verify_file((dir / "client_extended.mp4").string()).status, CredentialStatus::valid);
  EXPECT_EQ(read_video((dir / "client_extended.mp4").string()).size(), 97u);
}

}  // namespace
}  // namespace kinema::serve::test
