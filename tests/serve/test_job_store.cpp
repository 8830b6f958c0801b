// The job store: arrival order, claiming, paging per owner, and recovery of running jobs.
#include <gtest/gtest.h>

#include "serve/job_store.hpp"
#include "serve_test_util.hpp"

namespace kinema::serve {
namespace {

Job job(const std::string& id, const std::string& owner = "a") {
  Job j;
  j.id = id, j.owner = owner, j.created_at = 1, j.params = "{}";
  return j;
}

TEST(JobStore, ClaimsOldestFirstAndRequeuesRunningJobsOnReopen) {
  const std::string path = (test::fresh_dir("store") / "jobs.sqlite3").string();
  {
    JobStore s(path);
    s.insert(job("v1"));
    s.insert(job("v2"));
    EXPECT_EQ(s.count_queued(), 2);
    EXPECT_EQ(s.claim_next()->id, "v1");
    s.set_progress("v1", 40);
    EXPECT_EQ(s.get("v1")->progress, 40);
    EXPECT_EQ(s.get("v1")->status, "in_progress");
    EXPECT_EQ(s.count_queued(), 1);
  }
  {
    JobStore keys_only(path, Recovery::none);  // `kinema keys` must not touch running jobs
    EXPECT_EQ(keys_only.get("v1")->status, "in_progress");
  }
  JobStore s(path);
  EXPECT_EQ(s.requeued_at_open(), 1);
  EXPECT_EQ(s.get("v1")->status, "queued");
  EXPECT_EQ(s.claim_next()->id, "v1");  // still first in line
  s.complete("v1", "{\"video\":\"x.mp4\"}", 5);
  EXPECT_EQ(s.get("v1")->progress, 100);
  EXPECT_EQ(s.claim_next()->id, "v2");
  s.fail("v2", "render_failed", "boom", 6);
  EXPECT_FALSE(s.claim_next());
  EXPECT_EQ(s.count_by_status()["completed"], 1);
  EXPECT_EQ(s.count_by_status()["failed"], 1);
  EXPECT_TRUE(s.remove("v2"));
  EXPECT_FALSE(s.remove("v2"));
}

TEST(JobStore, ListsOneOwnersJobsPageByPage) {
  JobStore s((test::fresh_dir("store") / "jobs.sqlite3").string());
  for (int i = 0; i < 5; ++i) {
    s.insert(job("a" + std::to_string(i)));
    s.insert(job("b" + std::to_string(i), "b"));
  }
  ListQuery q;
  q.owner = "a", q.limit = 3, q.ascending = true;
  ListResult r = s.list(q);
  ASSERT_EQ(r.jobs.size(), 3u);
  EXPECT_EQ(r.jobs[0].id, "a0");
  EXPECT_TRUE(r.has_more);
  q.after = r.jobs.back().id;
  r = s.list(q);
  ASSERT_EQ(r.jobs.size(), 2u);
  EXPECT_EQ(r.jobs[1].id, "a4");
  EXPECT_FALSE(r.has_more);
  q.ascending = false, q.after = "a2";
  r = s.list(q);
  ASSERT_EQ(r.jobs.size(), 2u);
  EXPECT_EQ(r.jobs[0].id, "a1");
}

}  // namespace
}  // namespace kinema::serve
