// The web page in a real browser: Debian's headless chromium driven by puppeteer-core (pinned in
// page_browser/package-lock.json, installed by scripts/install-deps) submits a prompt, watches
// progress reach 100%, and checks the <video> loads with the expected duration and a valid
// credentials badge; the screenshot is left in the test's temp directory.
#include <array>
#include <cstdio>
#include <cstdlib>

#include "serve_renderer.hpp"
#include "serve_test_util.hpp"
#include "tiny_model_server.hpp"
#include "tiny_bundle.hpp"

namespace kinema::serve::test {
namespace {

const std::string kPageDir = std::string(KINEMA_SOURCE_DIR) + "/tests/serve/page_browser";

TEST(PageBrowser, APromptBecomesAPlayingVideoWithCredentialsInChromium) {
  ASSERT_TRUE(fs::exists(kPageDir + "/node_modules/puppeteer-core/package.json"))
      << "puppeteer-core is missing: run scripts/install-deps";
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "chromium is missing: run scripts/install-deps";
  const fs::path dir = fresh_dir("page");
  TinyModelServer tiny = tiny_model_server(dir);
  cli::ServeRenderOptions& ro = tiny.render;
  ServeOptions& o = tiny.options;
  Running s(o, cli::pipeline_renderer_factory(ro));
  // 2 s at the tiny model's 12 fps: 25 frames, which play for 25 / 12 s.
  const std::string cmd = "cd '" + kPageDir + "' && HOME='" + dir.string() + "' KINEMA_PAGE_URL=http://127.0.0.1:" +
                          std::to_string(s.server->port()) + "/ KINEMA_EXPECT_SECONDS=" + std::to_string(25.0 / 12) +
                          " KINEMA_OUT_DIR='" + dir.string() + "' timeout 90 node page.mjs 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  ASSERT_EQ(::pclose(p), 0) << out;
  EXPECT_NE(out.find("\"ok\":true"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir / "page.png"));
  std::printf("%s", out.c_str());
}

}  // namespace
}  // namespace kinema::serve::test
