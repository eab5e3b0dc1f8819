// Tests of RankInfoFromEnv (distributed.h) against a fake environment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

#include "learner/distributed.h"

namespace pelican {
namespace {

using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(RankInfoFromEnvTest, DefaultsToASingleLocalRank) {
  auto info = RankInfoFromEnv(FakeEnv({}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->rank, 0);
  EXPECT_EQ(info->world_size, 1);
  EXPECT_EQ(info->local_rank, 0);
  EXPECT_EQ(info->master_addr, "127.0.0.1");
  EXPECT_EQ(info->master_port, 29500);
}

TEST(RankInfoFromEnvTest, TorchrunStyle) {
  auto info = RankInfoFromEnv(FakeEnv({{"RANK", "5"},
                                       {"WORLD_SIZE", "8"},
                                       {"LOCAL_RANK", "1"},
                                       {"MASTER_ADDR", "node-a.cluster"},
                                       {"MASTER_PORT", "1234"}}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->rank, 5);
  EXPECT_EQ(info->world_size, 8);
  EXPECT_EQ(info->local_rank, 1);
  EXPECT_EQ(info->master_addr, "node-a.cluster");
  EXPECT_EQ(info->master_port, 1234);
}

TEST(RankInfoFromEnvTest, Slurm) {
  auto info = RankInfoFromEnv(FakeEnv({{"SLURM_PROCID", "3"},
                                       {"SLURM_NTASKS", "4"},
                                       {"SLURM_LOCALID", "1"},
                                       {"SLURM_JOB_NODELIST", "gpu[03-05,9],login1"},
                                       {"SLURM_LAUNCH_NODE_IPADDR", "10.0.0.9"}}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->rank, 3);
  EXPECT_EQ(info->world_size, 4);
  EXPECT_EQ(info->local_rank, 1);
  EXPECT_EQ(info->master_addr, "gpu03");  // the first node, not the launch node
  EXPECT_EQ(info->master_port, 29500);
}

TEST(RankInfoFromEnvTest, SlurmHostLists) {
  const std::pair<std::string, std::string> cases[] = {
      {"node7", "node7"},
      {"a1,b2", "a1"},
      {"n[001-004]", "n001"},
      {"rack[1-2]-n[01,03]", "rack1-n01"},
      {"gpu-[3]-ib,gpu-[4]-ib", "gpu-3-ib"},
  };
  for (const auto& [list, first] : cases) {
    auto info = RankInfoFromEnv(FakeEnv({{"SLURM_JOB_NODELIST", list}}));
    ASSERT_TRUE(info.ok()) << list << ": " << info.status();
    EXPECT_EQ(info->master_addr, first) << list;
  }
  auto launch = RankInfoFromEnv(FakeEnv({{"SLURM_LAUNCH_NODE_IPADDR", "10.1.2.3"}}));
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_EQ(launch->master_addr, "10.1.2.3");  // used only without a node list
}

TEST(RankInfoFromEnvTest, TorchrunVariablesWinFieldByField) {
  auto info = RankInfoFromEnv(FakeEnv({{"RANK", "1"},
                                       {"SLURM_PROCID", "0"},
                                       {"SLURM_NTASKS", "2"},  // no WORLD_SIZE: Slurm's
                                       {"MASTER_ADDR", "10.0.0.1"},
                                       {"SLURM_JOB_NODELIST", "n[1-2]"},
                                       {"LOCAL_RANK", "0"},
                                       {"SLURM_LOCALID", "1"}}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->rank, 1);
  EXPECT_EQ(info->world_size, 2);
  EXPECT_EQ(info->master_addr, "10.0.0.1");
  EXPECT_EQ(info->local_rank, 0);
}

TEST(RankInfoFromEnvTest, GarbageIsAnErrorNamingTheVariable) {
  const std::pair<std::map<std::string, std::string>, std::string> cases[] = {
      {{{"RANK", "one"}, {"WORLD_SIZE", "2"}}, "RANK='one'"},
      {{{"RANK", "2"}, {"WORLD_SIZE", "2"}}, "RANK=2 is not below WORLD_SIZE=2"},
      {{{"RANK", "1"}}, "WORLD_SIZE (unset, so 1)"},
      {{{"RANK", "-1"}, {"WORLD_SIZE", "2"}}, "RANK='-1'"},
      {{{"WORLD_SIZE", "0"}}, "WORLD_SIZE='0'"},
      {{{"WORLD_SIZE", "2x"}}, "WORLD_SIZE='2x'"},
      {{{"WORLD_SIZE", ""}}, "WORLD_SIZE=''"},
      {{{"WORLD_SIZE", "99999999999"}}, "WORLD_SIZE='99999999999'"},
      {{{"LOCAL_RANK", "3"}, {"WORLD_SIZE", "2"}}, "LOCAL_RANK=3"},
      {{{"MASTER_PORT", "70000"}}, "MASTER_PORT='70000'"},
      {{{"MASTER_PORT", "0"}}, "MASTER_PORT='0'"},
      {{{"MASTER_ADDR", ""}}, "MASTER_ADDR=''"},
      {{{"MASTER_ADDR", "a b"}}, "MASTER_ADDR='a b'"},
      {{{"SLURM_PROCID", "x"}, {"SLURM_NTASKS", "2"}}, "SLURM_PROCID='x'"},
      {{{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}}, "SLURM_PROCID=4 is not below SLURM_NTASKS"},
      {{{"SLURM_JOB_NODELIST", "n[1-2"}}, "SLURM_JOB_NODELIST='n[1-2'"},
      {{{"SLURM_JOB_NODELIST", "n[a-b]"}}, "SLURM_JOB_NODELIST"},
      {{{"SLURM_JOB_NODELIST", ",n1"}}, "SLURM_JOB_NODELIST"},
      // A malformed variable is an error even though a valid fallback is set.
      {{{"RANK", "x"}, {"SLURM_PROCID", "0"}}, "RANK='x'"},
  };
  for (const auto& [vars, expected] : cases) {
    auto info = RankInfoFromEnv(FakeEnv(vars));
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << expected;
    EXPECT_THAT(std::string(info.status().message()), HasSubstr(expected));
  }
}

TEST(RankDeviceTest, BareCudaTakesTheLocalRanksGpu) {
  RankInfo info;
  info.rank = 5;
  info.world_size = 8;
  info.local_rank = 3;
  EXPECT_EQ(RankDevice("cuda", info).value(), torch::Device(torch::kCUDA, 3));
  EXPECT_EQ(RankDevice("cuda:1", info).value(), torch::Device(torch::kCUDA, 1));
  EXPECT_EQ(RankDevice("cpu", info).value(), torch::Device(torch::kCPU));
  EXPECT_EQ(RankDevice("", info).value(), torch::Device(torch::kCPU));
  const auto bad = RankDevice("gpu0", info);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("'gpu0'"));
}

}  // namespace
}  // namespace pelican
