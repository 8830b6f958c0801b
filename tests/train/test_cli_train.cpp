// `kinema train dit`: an interrupted run resumed with the same command plus --resume ends with
// the same log and byte-identical checkpoint files as an uninterrupted run.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kinema/error.hpp"
#include "kinema/tensor_file.hpp"
#include "temp_dir.hpp"

namespace kinema::cli {
int cmd_train(int argc, char** argv);
}

namespace fs = std::filesystem;

namespace kinema {
namespace {

int train_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"train", "dit"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_train(int(argv.size()), argv.data());
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The step,loss,lr,grad_norm columns (seconds differ from run to run).
std::vector<std::string> log_rows(const fs::path& p) {
  std::vector<std::string> rows;
  std::istringstream in(read_file(p));
  for (std::string line; std::getline(in, line);) rows.push_back(line.substr(0, line.rfind(',')));
  return rows;
}

TEST(CliTrain, StopThenResumeEqualsOneRun) {
  fs::path root = fs::temp_directory_path() / ("kinema_cli_train_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const std::string a = (root / "a").string(), b = (root / "b").string();
  const std::vector<std::string> common = {"--steps", "8", "--warmup", "2", "--lr", "3e-3", "--accum", "2",
                                           "--mask-channels", "4", "--frames", "3"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> v = common;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  ASSERT_EQ(train_cli(with({"--out", a})), 0);
  ASSERT_EQ(train_cli(with({"--out", b, "--stop-after", "3"})), 0);
  EXPECT_EQ(log_rows(fs::path(b) / "train_log.csv").size(), 4u);  // header + 3 steps
  ASSERT_EQ(train_cli(with({"--out", b, "--resume"})), 0);
  EXPECT_EQ(log_rows(fs::path(a) / "train_log.csv"), log_rows(fs::path(b) / "train_log.csv"));
  for (const char* f : {"model.safetensors", "ema.safetensors", "optimizer.safetensors", "trainer.safetensors"})
    EXPECT_EQ(read_file(fs::path(a) / "step-00000008" / f), read_file(fs::path(b) / "step-00000008" / f)) << f;
  fs::remove_all(root);
}

// SIGINT while steps run (taken by the stop watcher thread): the step in flight finishes, the
// run saves it and exits 130, and --resume goes on from there.
TEST(CliTrain, SigintMidRunSavesTheStepInFlightAndExits130) {
  const std::string out = (test::process_temp_dir("kinema_cli_sigint") / "run").string();
  std::thread interrupter([&] {
    const fs::path log = fs::path(out) / "train_log.csv";
    for (int i = 0; i < 6000 && log_rows(log).size() < 4; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::raise(SIGINT);
  });
  const int rc = train_cli({"--steps", "1000000", "--out", out});
  interrupter.join();
  EXPECT_EQ(rc, 130);
  const size_t steps = log_rows(fs::path(out) / "train_log.csv").size() - 1;
  EXPECT_GE(steps, 3u);
  EXPECT_LT(steps, 1000000u);
  char name[32];
  std::snprintf(name, sizeof name, "step-%08zu", steps);
  EXPECT_EQ(read_file(fs::path(out) / "latest"), std::string(name) + "\n");
  EXPECT_EQ(train_cli({"--steps", std::to_string(steps + 2), "--out", out, "--resume"}), 0);
  EXPECT_EQ(log_rows(fs::path(out) / "train_log.csv").size(), steps + 3);
}

TEST(CliTrain, KeepLeavesTheNewestCheckpoints) {
  const std::string out = (test::process_temp_dir("kinema_cli_keep") / "run").string();
  ASSERT_EQ(train_cli({"--steps", "5", "--warmup", "1", "--frames", "3", "--save-every", "1", "--keep", "2",
                       "--out", out}),
            0);
  std::vector<std::string> steps;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().filename().string().rfind("step-", 0) == 0) steps.push_back(e.path().filename().string());
  std::sort(steps.begin(), steps.end());
  EXPECT_EQ(steps, (std::vector<std::string>{"step-00000004", "step-00000005"}));
  EXPECT_THROW(train_cli({"--steps", "1", "--keep", "-1", "--out", out}), Error);
}

// --patch: a new model with that patch, or --init's weights carried to it (repatch_dit).
TEST(CliTrain, PatchSetsANewModelsPatchAndCarriesInitWeightsToIt) {
  const fs::path root = test::process_temp_dir("kinema_cli_patch");
  const std::string coarse = (root / "coarse").string(), fine = (root / "fine").string();
  auto patch_of = [](const std::string& run) {
    return load_tensors(run + "/step-00000001/ema.safetensors").tensors.at("patch_embedding.weight").shape();
  };
  ASSERT_EQ(train_cli({"--steps", "1", "--frames", "3", "--out", coarse}), 0);
  EXPECT_EQ(patch_of(coarse), (Shape{64, 4, 1, 2, 2}));
  ASSERT_EQ(train_cli({"--steps", "1", "--frames", "3", "--out", fine, "--patch", "1x1x1", "--init",
                       coarse + "/step-00000001/ema.safetensors"}),
            0);
  EXPECT_EQ(patch_of(fine), (Shape{64, 4, 1, 1, 1}));
  EXPECT_EQ(load_tensors(fine + "/step-00000001/ema.safetensors").tensors.at("head.head.weight").shape(),
            (Shape{4, 64}));
  try {  // a resumed run keeps its checkpoint's patch
    train_cli({"--steps", "2", "--frames", "3", "--out", coarse, "--resume", "--patch", "1x1x1"});
    ADD_FAILURE() << "resumed a 1x2x2 run as 1x1x1";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resume without --patch"), std::string::npos) << e.what();
  }
  for (const char* bad : {"1x2", "0x1x1", "1x1x1x", "ax1x1"}) {
    try {
      train_cli({"--steps", "1", "--out", (root / "bad").string(), "--patch", bad});
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--patch must be TxHxW"), std::string::npos) << e.what();
    }
  }
}

TEST(CliTrain, HelpAndBadOptions) {
  EXPECT_EQ(train_cli({"--help"}), 0);
  EXPECT_THROW(train_cli({"--steps", "3"}), Error);  // no --out
  try {
    train_cli({"--steps", "x", "--out", "/tmp/unused"});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--steps needs N; got 'x'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train_cli({"--frobnicate"}), Error);
  EXPECT_THROW(train_cli({"--steps", "3", "--out", "/tmp/kinema_no_such_run_dir", "--resume"}), Error);
}

}  // namespace
}  // namespace kinema
