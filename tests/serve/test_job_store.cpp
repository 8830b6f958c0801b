// The job store, one suite over both stores (SQLite, and PostgreSQL on a server the test starts):
// arrival order, claiming under a lease, paging per owner, API keys, a lease that runs out
// handing the job to another worker, the old worker refused, and each job claimed and completed
// exactly once under concurrent claims. Then what only SQLite does (requeue at open, old files).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "kinema/error.hpp"
#include "pg_test_server.hpp"
#include "serve/expiry.hpp"
#include "serve/job_store.hpp"
#include "serve_test_util.hpp"

namespace kinema::serve {
namespace {

Job job(const std::string& id, const std::string& owner = "a") {
  Job j;
  j.id = id, j.owner = owner, j.created_at = 1, j.params = "{}";
  return j;
}

// GetParam(): "sqlite" or "postgresql". Each test gets a fresh database.
class Stores : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    url_ = GetParam() == "sqlite" ? "sqlite:" + (test::fresh_dir("store") / "jobs.sqlite3").string()
                                  : test::PgTestServer::get().fresh_database("store");
  }
  // Another connection to the same queue, as another server of a fleet would have.
  std::unique_ptr<JobStore> open(const std::string& lease = "") const {
    return open_job_store(url_ + (lease.empty() ? "" : "?lease=" + lease), "", Recovery::none);
  }
  std::string url_;
};

INSTANTIATE_TEST_SUITE_P(JobStore, Stores, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST_P(Stores, ClaimsOldestFirstAndRecordsProgressUnderTheLease) {
  auto s = open();
  s->insert(job("v1"));
  s->insert(job("v2"));
  EXPECT_EQ(s->count_queued(), 2);
  const auto c = s->claim_next("host:1/0");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, "v1");
  EXPECT_EQ(c->worker, "host:1/0");
  EXPECT_EQ(c->attempts, 1);
  EXPECT_EQ(c->lease.size(), 32u);
  EXPECT_TRUE(s->renew("v1", c->lease, 40));
  EXPECT_FALSE(s->renew("v1", "not-the-lease", 50));
  EXPECT_EQ(s->get("v1")->progress, 40);
  EXPECT_EQ(s->get("v1")->status, "in_progress");
  EXPECT_EQ(s->count_queued(), 1);
  EXPECT_TRUE(s->complete("v1", c->lease, "{\"video\":\"x.mp4\"}", 5));
  EXPECT_EQ(s->get("v1")->progress, 100);
  EXPECT_EQ(s->get("v1")->completions, 1);
  EXPECT_EQ(s->get("v1")->files, "{\"video\":\"x.mp4\"}");
  const auto d = s->claim_next("host:1/0");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->id, "v2");
  EXPECT_TRUE(s->fail("v2", d->lease, "render_failed", "boom", 6));
  EXPECT_EQ(s->get("v2")->error_message, "boom");
  EXPECT_FALSE(s->claim_next("host:1/0"));
  EXPECT_EQ(s->count_by_status()["completed"], 1);
  EXPECT_EQ(s->count_by_status()["failed"], 1);
  EXPECT_EQ(s->count_owned("a"), 2);
  EXPECT_TRUE(s->remove("v2"));
  EXPECT_FALSE(s->remove("v2"));
}

// complete() records expires_at; the sweeper removes the files of jobs past it (only those, once)
// and marks them expired, leaving the row.
TEST_P(Stores, TheSweeperExpiresCompletedJobsPastTheirExpiryAndRemovesTheirFiles) {
  auto s = open();
  const auto dir = test::fresh_dir("sweep");
  std::filesystem::create_directories(dir / "videos");
  std::filesystem::create_directories(dir / "uploads");
  for (const char* id : {"v1", "v2", "v3"}) {
    Job j = job(id);
    j.params = std::string("{\"input_reference\":\"") + id + ".png\"}";
    s->insert(j);
    std::ofstream(dir / "uploads" / (std::string(id) + ".png")) << "png";
    std::ofstream(dir / "videos" / (std::string(id) + ".mp4")) << "mp4";
    const auto c = s->claim_next("w");
    ASSERT_TRUE(c);
    // v1 expires at 100, v2 at 200, v3 never.
    const int64_t expires = std::string(id) == "v1" ? 100 : std::string(id) == "v2" ? 200 : 0;
    EXPECT_TRUE(s->complete(id, c->lease, std::string("{\"video\":\"") + id + ".mp4\"}", 50, expires));
  }
  EXPECT_EQ(s->get("v1")->expires_at, 100);
  EXPECT_EQ(s->get("v3")->expires_at, 0);
  EXPECT_EQ(sweep_expired(*s, dir.string(), 99), 0);
  EXPECT_EQ(s->count_owned("a"), 3);
  EXPECT_EQ(sweep_expired(*s, dir.string(), 150), 1);
  EXPECT_EQ(s->count_owned("a"), 2);  // an expired video holds no files: not in the quota
  EXPECT_TRUE(s->get("v1")->expired);
  EXPECT_EQ(s->get("v1")->status, "completed");
  EXPECT_FALSE(std::filesystem::exists(dir / "videos" / "v1.mp4"));
  EXPECT_FALSE(std::filesystem::exists(dir / "uploads" / "v1.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "videos" / "v2.mp4"));
  EXPECT_EQ(sweep_expired(*s, dir.string(), 150), 0);  // once
  EXPECT_FALSE(s->mark_expired("v1"));
  EXPECT_EQ(sweep_expired(*s, dir.string(), 1000000), 1);  // v2; v3 never expires
  EXPECT_FALSE(s->get("v3")->expired);
  EXPECT_TRUE(std::filesystem::exists(dir / "videos" / "v3.mp4"));
}

TEST_P(Stores, ListsOneOwnersJobsPageByPage) {
  auto s = open();
  for (int i = 0; i < 5; ++i) {
    s->insert(job("a" + std::to_string(i)));
    s->insert(job("b" + std::to_string(i), "b"));
  }
  ListQuery q;
  q.owner = "a", q.limit = 3, q.ascending = true;
  ListResult r = s->list(q);
  ASSERT_EQ(r.jobs.size(), 3u);
  EXPECT_EQ(r.jobs[0].id, "a0");
  EXPECT_TRUE(r.has_more);
  q.after = r.jobs.back().id;
  r = s->list(q);
  ASSERT_EQ(r.jobs.size(), 2u);
  EXPECT_EQ(r.jobs[1].id, "a4");
  EXPECT_FALSE(r.has_more);
  q.ascending = false, q.after = "a2";
  r = s->list(q);
  ASSERT_EQ(r.jobs.size(), 2u);
  EXPECT_EQ(r.jobs[0].id, "a1");
  q.after = "b1";  // another owner's job is no cursor
  EXPECT_THROW(s->list(q), Error);
}

TEST_P(Stores, KeepsApiKeysByOwner) {
  auto s = open();
  EXPECT_EQ(s->key_count(), 0);
  s->add_key("h1", "alice", "sk-kinema-aaaa", 10);
  s->add_key("h2", "bob", "sk-kinema-bbbb", 11);
  s->add_key("h3", "alice", "sk-kinema-cccc", 12);
  EXPECT_EQ(s->owner_of_key("h2"), "bob");
  EXPECT_FALSE(s->owner_of_key("h4"));
  ASSERT_EQ(s->keys().size(), 3u);
  EXPECT_EQ(s->keys()[0].prefix, "sk-kinema-aaaa");
  EXPECT_EQ(s->remove_keys("alice"), 2);
  EXPECT_EQ(s->key_count(), 1);
}

TEST_P(Stores, KeepsCharactersByOwner) {
  auto s = open();
  s->add_character({"char_1", "alice", "Bob", 10, "char_1.png"});
  s->add_character({"char_2", "bob", "Ann", 11, "char_2.png"});
  s->add_character({"char_3", "alice", "Cat", 12, "char_3.png"});
  const auto c = s->get_character("char_3");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->owner, "alice");
  EXPECT_EQ(c->name, "Cat");
  EXPECT_EQ(c->created_at, 12);
  EXPECT_EQ(c->file, "char_3.png");
  EXPECT_FALSE(s->get_character("char_4"));
  const auto mine = s->list_characters("alice");
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].id, "char_1");
  EXPECT_EQ(mine[1].id, "char_3");
  EXPECT_TRUE(s->remove_character("char_1"));
  EXPECT_FALSE(s->remove_character("char_1"));
  EXPECT_EQ(s->list_characters("alice").size(), 1u);
  EXPECT_EQ(s->list_characters("bob").size(), 1u);
}

// A worker that stalls past its lease (or dies) loses the job to another worker, which resumes
// it; the first one can then neither renew, nor complete, nor fail it: one completion, by the
// worker that holds the lease.
TEST_P(Stores, AnExpiredLeasePassesTheJobOnAndOnlyTheNewHolderCompletesIt) {
  auto a = open("0.5"), b = open("0.5");
  a->insert(job("v1"));
  const auto first = a->claim_next("a:1/0");
  ASSERT_TRUE(first);
  EXPECT_FALSE(b->claim_next("b:2/0"));  // the lease holds
  EXPECT_TRUE(a->renew("v1", first->lease, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const auto second = b->claim_next("b:2/0");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, "v1");
  EXPECT_EQ(second->attempts, 2);
  EXPECT_NE(second->lease, first->lease);
  EXPECT_FALSE(a->renew("v1", first->lease, 20));
  EXPECT_FALSE(a->complete("v1", first->lease, "{\"video\":\"a.mp4\"}", 7));
  EXPECT_FALSE(a->fail("v1", first->lease, "render_failed", "late", 7));
  EXPECT_TRUE(b->complete("v1", second->lease, "{\"video\":\"b.mp4\"}", 8));
  EXPECT_FALSE(b->complete("v1", second->lease, "{\"video\":\"b.mp4\"}", 9));  // once
  const Job done = *a->get("v1");
  EXPECT_EQ(done.status, "completed");
  EXPECT_EQ(done.worker, "b:2/0");
  EXPECT_EQ(done.files, "{\"video\":\"b.mp4\"}");
  EXPECT_EQ(done.completions, 1);
  EXPECT_FALSE(b->claim_next("b:2/0"));  // a completed job is never claimed again
}

TEST_P(Stores, ADeletedJobRefusesItsWorker) {
  auto s = open();
  s->insert(job("v1"));
  const auto c = s->claim_next("w");
  ASSERT_TRUE(c);
  EXPECT_TRUE(s->remove("v1"));
  EXPECT_FALSE(s->renew("v1", c->lease, 30));
  EXPECT_FALSE(s->complete("v1", c->lease, "{}", 1));
}

// Four workers on two connections race for 40 jobs: each is claimed once and completed once.
TEST_P(Stores, ConcurrentWorkersClaimEachJobOnce) {
  auto a = open(), b = open();
  for (int i = 0; i < 40; ++i) a->insert(job("v" + std::to_string(i)));
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      JobStore& s = w % 2 ? *a : *b;
      while (auto j = s.claim_next("w" + std::to_string(w))) {
        EXPECT_TRUE(s.complete(j->id, j->lease, "{}", 1));
        std::lock_guard lock(mu);
        claimed.insert(j->id);
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(claimed.size(), 40u);
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(), 40u);
  EXPECT_EQ(a->count_by_status()["completed"], 40);
}

TEST(SqliteJobStore, RequeuesRunningJobsOnReopenButNotForKeys) {
  const std::string url = "sqlite:" + (test::fresh_dir("store") / "jobs.sqlite3").string();
  std::string lease;
  {
    auto s = open_job_store(url, "");
    s->insert(job("v1"));
    s->insert(job("v2"));
    lease = s->claim_next("w")->lease;
  }
  EXPECT_EQ(open_job_store(url, "", Recovery::none)->get("v1")->status, "in_progress");  // `kinema keys`
  auto s = open_job_store(url, "");
  EXPECT_EQ(s->requeued_at_open(), 1);
  EXPECT_EQ(s->get("v1")->status, "queued");
  EXPECT_FALSE(s->complete("v1", lease, "{}", 1));  // the old claim is void
  const auto again = s->claim_next("w");
  EXPECT_EQ(again->id, "v1");  // still first in line
  EXPECT_EQ(again->attempts, 2);
}

// A jobs.sqlite3 made before leases existed opens, gains the columns, and its jobs are claimable.
TEST(SqliteJobStore, OpensADatabaseFromBeforeLeases) {
  const auto path = test::fresh_dir("store") / "jobs.sqlite3";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
                         "owner TEXT NOT NULL, status TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0, "
                         "created_at INTEGER NOT NULL, completed_at INTEGER NOT NULL DEFAULT 0, expires_at INTEGER "
                         "NOT NULL DEFAULT 0, model TEXT, prompt TEXT, seconds TEXT, size TEXT, remixed_from TEXT, "
                         "error_code TEXT, error_message TEXT, params TEXT, files TEXT);"
                         "INSERT INTO jobs (id, owner, status, created_at, params) VALUES ('old', 'a', 'queued', 1, '{}')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = open_job_store("sqlite:" + path.string(), "");
  const auto c = s->claim_next("w");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, "old");
  EXPECT_TRUE(s->complete("old", c->lease, "{}", 2));
}

// No server needed: a refused connection names the server (not the password) and libpq's reason.
TEST(PgJobStore, ACannotConnectErrorNamesTheServerButNotThePassword) {
  try {
    open_job_store("postgresql://kinema:s3cret@127.0.0.1:1/jobs?connect_timeout=2", "");
    FAIL() << "connected to port 1";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot connect to PostgreSQL at postgresql://kinema:***@127.0.0.1:1/jobs"), std::string::npos) << m;
    EXPECT_EQ(m.find("s3cret"), std::string::npos) << m;
    EXPECT_NE(m.find("Connection refused"), std::string::npos) << m;
  }
  EXPECT_THROW(open_job_store("mysql://x/y", ""), Error);
  EXPECT_THROW(open_job_store("postgresql://x/y?lease=0", ""), Error);
}

}  // namespace
}  // namespace kinema::serve
