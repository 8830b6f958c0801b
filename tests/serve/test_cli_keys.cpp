// `kinema keys create|list|revoke` as a user runs them: the key is printed once, only its prefix is
// listed, a revoked owner's key stops working, and mistakes are errors that say what to do.
#include <array>
#include <cstdio>

#include "serve_test_util.hpp"

namespace kinema::serve::test {
namespace {

struct CliRun {
  int status;
  std::string out;
};

// stderr goes where `redirect` says: with stdout by default, or away to read stdout alone.
CliRun kinema(const std::string& args, const std::string& redirect = "2>&1") {
  FILE* p = ::popen((std::string(KINEMA_CLI_PATH) + " " + args + " " + redirect).c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(CliKeys, CreateListRevoke) {
  const fs::path dir = fresh_dir("cli_keys");
  const std::string data = "--data '" + (dir / "data").string() + "'";
  const CliRun created = kinema("keys create " + data + " --owner alice", "2>/dev/null");
  ASSERT_EQ(created.status, 0) << created.out;
  const std::string key = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(key.rfind("sk-kinema-", 0), 0u) << created.out;
  EXPECT_EQ(key.size(), 10u + 43u);
  const CliRun listed = kinema("keys list " + data);
  EXPECT_EQ(listed.status, 0);
  EXPECT_NE(listed.out.find("alice"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find(key.substr(0, 16) + "..."), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find(key), std::string::npos);  // never the whole key again
  {
    ServeOptions o;
    o.data_dir = (dir / "data").string();
    Running s(o, [] { return std::unique_ptr<Renderer>(); });
    s.key = key;
    EXPECT_EQ(s.get("/v1/videos")->status, 200);
    EXPECT_EQ(kinema("keys revoke " + data + " --owner alice").status, 0);
    EXPECT_EQ(s.get("/v1/videos")->status, 200);  // no key left: the server is open again
    ASSERT_EQ(kinema("keys create " + data + " --owner bob").status, 0);
    EXPECT_EQ(s.get("/v1/videos")->status, 401);  // alice's key is gone
  }
  EXPECT_EQ(kinema("keys revoke " + data + " --owner nobody").status, 1);
  const CliRun bad = kinema("keys create " + data + " --owner 'two words'");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("without spaces"), std::string::npos) << bad.out;
  EXPECT_NE(kinema("keys create").status, 0);
  EXPECT_NE(kinema("keys frobnicate " + data).status, 0);
}

}  // namespace
}  // namespace kinema::serve::test
