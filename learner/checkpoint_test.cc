#include "learner/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"

namespace pelican {
namespace {

namespace fs = std::filesystem;

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/checkpoint_test_" + name;
  fs::remove_all(dir);
  return dir;
}

absl::Status WriteTwoFiles(const std::string& dir, const std::string& payload) {
  if (absl::Status s = MakeDirs(dir + "/policy"); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomic(dir + "/policy/model.safetensors", payload); !s.ok()) {
    return s;
  }
  return WriteFileAtomic(dir + "/state.pb", "state-" + payload);
}

std::vector<uint64_t> Steps(const std::string& root) {
  std::vector<uint64_t> steps;
  for (const CheckpointInfo& info : ListCheckpoints(root)) steps.push_back(info.step);
  return steps;
}

TEST(CheckpointTest, WritesVerifiesAndKeepsTheLastK) {
  const std::string root = FreshDir("keep");
  CheckpointWriteOptions options;
  options.keep_last = 3;
  options.config_fingerprint = "abc123";
  options.keep_steps = {2};
  for (uint64_t step : {1, 2, 3, 4, 5, 6}) {
    auto dir = WriteCheckpoint(root, step, options, [&](const std::string& d) {
      return WriteTwoFiles(d, "weights of step " + std::to_string(step));
    });
    ASSERT_TRUE(dir.ok()) << dir.status();
    EXPECT_TRUE(VerifyCheckpoint(*dir).ok());
  }
  EXPECT_EQ(Steps(root), (std::vector<uint64_t>{2, 4, 5, 6}));  // 2 is protected
  auto latest = FindLatestCheckpoint(root);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->step, 6u);
  EXPECT_EQ(*CheckpointFingerprint(latest->dir), "abc123");
  EXPECT_EQ(*ReadFile(latest->dir + "/policy/model.safetensors"), "weights of step 6");
}

TEST(CheckpointTest, CorruptNewestFallsBackToThePrevious) {
  const std::string root = FreshDir("corrupt");
  for (uint64_t step : {10, 20}) {
    ASSERT_TRUE(WriteCheckpoint(root, step, {}, [&](const std::string& d) {
                  return WriteTwoFiles(d, "payload " + std::to_string(step));
                }).ok());
  }
  const std::string newest = ListCheckpoints(root).back().dir;
  {
    std::fstream f(newest + "/policy/model.safetensors", std::ios::in | std::ios::out);
    f.seekp(3);
    f.put('X');
  }
  absl::Status bad = VerifyCheckpoint(newest);
  EXPECT_EQ(bad.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.message().find("policy/model.safetensors"), std::string::npos) << bad;
  auto latest = FindLatestCheckpoint(root);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->step, 10u);

  // A missing file, an extra file and a truncated manifest are caught too.
  const std::string older = latest->dir;
  ASSERT_TRUE(WriteFileAtomic(older + "/stray.bin", "x").ok());
  EXPECT_EQ(VerifyCheckpoint(older).code(), absl::StatusCode::kDataLoss);
  fs::remove(older + "/stray.bin");
  EXPECT_TRUE(VerifyCheckpoint(older).ok());
  fs::remove(older + "/state.pb");
  EXPECT_EQ(VerifyCheckpoint(older).code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(WriteFileAtomic(older + "/manifest.json", "{\"files\":").ok());
  EXPECT_EQ(VerifyCheckpoint(older).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FindLatestCheckpoint(root).status().code(), absl::StatusCode::kNotFound);
}

TEST(CheckpointTest, AFailedWriteLeavesNoCheckpointAndLeftoversAreCleaned) {
  const std::string root = FreshDir("failed");
  auto failed = WriteCheckpoint(root, 7, {}, [](const std::string& d) {
    (void)WriteFileAtomic(d + "/half", "half");
    return absl::InternalError("disk full");
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(ListCheckpoints(root).empty());
  // A crash mid-write leaves a temp dir: ignored by readers, removed by the next write.
  fs::create_directories(root + "/.tmp-step-00000008-999");
  EXPECT_TRUE(ListCheckpoints(root).empty());
  ASSERT_TRUE(WriteCheckpoint(root, 9, {}, [](const std::string& d) {
                return WriteTwoFiles(d, "ok");
              }).ok());
  EXPECT_FALSE(fs::exists(root + "/.tmp-step-00000008-999"));
  // Rewriting a step replaces it.
  ASSERT_TRUE(WriteCheckpoint(root, 9, {}, [](const std::string& d) {
                return WriteTwoFiles(d, "again");
              }).ok());
  EXPECT_EQ(Steps(root), (std::vector<uint64_t>{9}));
  EXPECT_EQ(*ReadFile(ListCheckpoints(root)[0].dir + "/policy/model.safetensors"), "again");
}

}  // namespace
}  // namespace pelican
