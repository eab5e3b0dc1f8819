// Tests of distributed.h. The multi-rank ones are real processes: a *Test.* case re-runs this
// binary once per rank with --gtest_filter=DistributedChild.<Name> and the torchrun-style
// environment, then judges the children by their exit codes and the files they leave in a
// scratch directory. DistributedChild.* cases skip themselves when run directly.
#include "learner/distributed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/model/test_models.h"
#include "common/net.h"
#include "learner/rl_test_util.h"
#include "learner/rl_trainer.h"
#include "learner/rollout_batch.h"

extern char** environ;

namespace pelican {
namespace {

using distributed_internal::BucketPiece;
using distributed_internal::PlanBuckets;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// Buckets

TEST(PlanBucketsTest, PacksInOrderSplitsBigTensorsAndSeparatesDtypes) {
  const std::vector<torch::Tensor> tensors = {
      torch::zeros({3}),                  // 12 bytes
      torch::zeros({100}),                // 400 bytes: split across buckets of 64 bytes
      torch::zeros({0}),                  // skipped
      torch::zeros({2}, torch::kDouble),  // new dtype: new bucket
      torch::zeros({5}, torch::kDouble),
      torch::zeros({1}),  // back to float: new bucket
  };
  const auto buckets = PlanBuckets(tensors, 64);
  std::vector<int64_t> covered(tensors.size(), 0);
  for (const auto& bucket : buckets) {
    ASSERT_FALSE(bucket.empty());
    size_t bytes = 0;
    for (const BucketPiece& p : bucket) {
      EXPECT_EQ(tensors[p.index].dtype(), tensors[bucket.front().index].dtype());
      EXPECT_EQ(p.offset, covered[p.index]) << "pieces of a tensor are in order";
      covered[p.index] += p.numel;
      bytes += p.numel * tensors[p.index].element_size();
    }
    EXPECT_LE(bytes, 64u);
  }
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_EQ(covered[i], tensors[i].numel()) << i;
  // 12 + 52 | 64 x 5 | 28 (float) ; 16 + 40 (double) ; 4 (float)
  ASSERT_EQ(buckets.size(), 9u);
  EXPECT_EQ(buckets[0].size(), 2u);
  EXPECT_EQ(buckets[7].size(), 2u);
  EXPECT_EQ(buckets[8].front().index, 5u);
}

TEST(PlanBucketsTest, ABucketSmallerThanAnElementHoldsOneElement) {
  const auto buckets = PlanBuckets({torch::zeros({3}, torch::kDouble)}, 1);
  ASSERT_EQ(buckets.size(), 3u);
  for (const auto& b : buckets) EXPECT_EQ(b.front().numel, 1);
}

// ---------------------------------------------------------------------------------------------
// One rank and bad arguments

TEST(ProcessGroupTest, WorldOfOneIsLocal) {
  auto pg = CreateProcessGroup(RankInfo{}, ProcessGroupOptions{});
  ASSERT_TRUE(pg.ok()) << pg.status();
  EXPECT_EQ((*pg)->rank(), 0);
  EXPECT_EQ((*pg)->world_size(), 1);
  std::vector<torch::Tensor> ts = {torch::arange(4, torch::kFloat), torch::ones({2, 2}).t()};
  const torch::Tensor before = ts[0].clone();
  ASSERT_TRUE((*pg)->AllReduceMean(ts).ok());
  EXPECT_TRUE(torch::equal(ts[0], before));
  ASSERT_TRUE((*pg)->Broadcast(ts, 0).ok());
  ASSERT_TRUE((*pg)->Barrier().ok());
  std::string bytes = "abc";
  ASSERT_TRUE((*pg)->BroadcastBytes(&bytes, 0).ok());
  EXPECT_EQ(bytes, "abc");
  // The argument checks are those of a real group.
  std::vector<torch::Tensor> ints = {torch::arange(4)};
  EXPECT_EQ((*pg)->AllReduceMean(ints).code(), absl::StatusCode::kInvalidArgument);
  std::vector<torch::Tensor> undefined = {torch::Tensor()};
  EXPECT_EQ((*pg)->AllReduceMean(undefined).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*pg)->Broadcast(ts, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*pg)->BroadcastBytes(&bytes, -1).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProcessGroupTest, BadOptionsAndRanks) {
  ProcessGroupOptions bad_backend;
  bad_backend.backend = "mpi";
  EXPECT_EQ(CreateProcessGroup(RankInfo{}, bad_backend).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProcessGroupOptions zero_timeout;
  zero_timeout.timeout = absl::ZeroDuration();
  EXPECT_EQ(CreateProcessGroup(RankInfo{}, zero_timeout).status().code(),
            absl::StatusCode::kInvalidArgument);
  RankInfo outside;
  outside.rank = 2;
  outside.world_size = 2;
  EXPECT_EQ(CreateProcessGroup(outside, ProcessGroupOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcessGroupTest, RendezvousNamesTheRankThatNeverJoins) {
  RankInfo info;
  info.world_size = 3;
  info.master_port = PickFreePort("127.0.0.1").value();
  ProcessGroupOptions options;
  options.timeout = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  auto pg = CreateProcessGroup(info, options);  // rank 0 alone: ranks 1 and 2 never come
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(pg.status().message()), HasSubstr("rank(s) 1, 2 of 3 did not join"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(ProcessGroupTest, RendezvousWithoutRankZeroTimesOut) {
  RankInfo info;
  info.rank = 1;
  info.world_size = 2;
  info.master_port = PickFreePort("127.0.0.1").value();
  ProcessGroupOptions options;
  options.timeout = absl::Milliseconds(500);
  auto pg = CreateProcessGroup(info, options);
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(pg.status().message()), HasSubstr("rank 0"));
}

// ---------------------------------------------------------------------------------------------
// Multi-process harness

constexpr char kChildEnv[] = "PELICAN_DIST_TEST_CHILD";  // set in ranks spawned by the tests
constexpr char kOutEnv[] = "PELICAN_DIST_TEST_OUT";      // their scratch directory

#define SKIP_UNLESS_RANK()                                                 \
  if (std::getenv(kChildEnv) == nullptr) {                                 \
    GTEST_SKIP() << "runs only as a rank spawned by a multi-process test"; \
  }                                                                        \
  alarm(60) /* a rank that hangs dies; the parent reports it */

std::string OutDir() { return std::getenv(kOutEnv); }

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last thing a rank does: proof that its test body ran to the end (a filtered-out or skipped
// gtest also exits 0).
void MarkDone(int rank) {
  if (!::testing::Test::HasFailure()) WriteFile(absl::StrCat(OutDir(), "/done.", rank), "ok");
}

// Spawns ranks of one DistributedChild case and reaps them; kills whatever is left on destruction,
// so that a failing test leaves no process behind.
class Ranks {
 public:
  explicit Ranks(std::string child_test) : child_test_(std::move(child_test)) {
    char dir[] = "/tmp/pelican_dist_XXXXXX";
    out_dir_ = mkdtemp(dir);
    port_ = PickFreePort("127.0.0.1").value();
  }
  ~Ranks() {
    for (auto& [rank, pid] : pids_) {
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
    std::filesystem::remove_all(out_dir_);
  }

  const std::string& out_dir() const { return out_dir_; }
  pid_t pid(int rank) { return pids_[rank]; }

  void Spawn(int rank, int world_size, const std::map<std::string, std::string>& extra = {}) {
    std::vector<std::string> args = {SelfExe(), "--gtest_brief=1",
                                     "--gtest_filter=DistributedChild." + child_test_};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string var = *e;
      // Our variables are set below; GTEST_* (ctest sharding, XML output) must not reach a rank.
      if (absl::StartsWith(var, "GTEST_") || absl::StartsWith(var, "SLURM_") ||
          absl::StartsWith(var, "RANK=") || absl::StartsWith(var, "WORLD_SIZE=") ||
          absl::StartsWith(var, "LOCAL_RANK=") || absl::StartsWith(var, "MASTER_")) {
        continue;
      }
      env.push_back(var);
    }
    std::map<std::string, std::string> vars = {{"RANK", std::to_string(rank)},
                                               {"WORLD_SIZE", std::to_string(world_size)},
                                               {"MASTER_ADDR", "127.0.0.1"},
                                               {"MASTER_PORT", std::to_string(port_)},
                                               {"LOCAL_RANK", std::to_string(rank)},
                                               {kChildEnv, "1"},
                                               {kOutEnv, out_dir_},
                                               {"OMP_NUM_THREADS", "1"}};
    for (const auto& [k, v] : extra) vars[k] = v;
    for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    pids_[rank] = pid;
  }

  // Waits for `rank` to exit (true) or, with `stopped`, to be stopped by a signal; gives up after
  // `timeout` (false, with a test failure).
  bool Wait(int rank, absl::Duration timeout, int* status, bool stopped = false) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      const pid_t r = waitpid(pids_[rank], status, WNOHANG | (stopped ? WUNTRACED : 0));
      if (r == pids_[rank]) {
        if (!WIFSTOPPED(*status)) pids_[rank] = -1;  // reaped
        return true;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "rank " << rank << " did not " << (stopped ? "stop" : "exit") << " within "
                  << absl::FormatDuration(timeout);
    return false;
  }

  // Waits for every rank to exit and expects each to have passed its test body.
  void ExpectAllSucceed(absl::Duration timeout) {
    for (auto& [rank, pid] : pids_) {
      if (pid < 0) continue;
      int status = 0;
      if (!Wait(rank, timeout, &status)) continue;
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "rank " << rank << " ended with status " << status;
    }
    for (auto& [rank, pid] : pids_) EXPECT_TRUE(Done(rank)) << "rank " << rank;
  }

  bool Done(int rank) const {
    return std::filesystem::exists(absl::StrCat(out_dir_, "/done.", rank));
  }

 private:
  static std::string SelfExe() { return std::filesystem::read_symlink("/proc/self/exe"); }

  const std::string child_test_;
  std::string out_dir_;
  int port_ = 0;
  std::map<int, pid_t> pids_;
};

// Spawns ranks 0 and 1 of `ranks`' case, waits for both, expects the parameter bytes they wrote
// (params.<rank>) to be identical and returns rank 0's ("" when missing).
std::string RunTwoRanksForParams(Ranks& ranks, absl::Duration timeout) {
  ranks.Spawn(0, 2);
  ranks.Spawn(1, 2);
  ranks.ExpectAllSucceed(timeout);
  const std::string p0 = ReadFile(ranks.out_dir() + "/params.0");
  EXPECT_TRUE(p0 == ReadFile(ranks.out_dir() + "/params.1")) << "parameters differ between ranks";
  return p0;
}

// Largest element-wise difference of two float32 parameter dumps of equal size.
float MaxFloatDifference(const std::string& a, const std::string& b) {
  const auto floats = [](const std::string& bytes) {
    return torch::from_blob(const_cast<char*>(bytes.data()),
                            {static_cast<int64_t>(bytes.size() / sizeof(float))}, torch::kFloat)
        .clone();
  };
  return (floats(a) - floats(b)).abs().max().item<float>();
}

std::unique_ptr<ProcessGroup> GroupFromEnv(absl::Duration timeout, size_t bucket_bytes) {
  auto info = RankInfoFromEnv();
  EXPECT_TRUE(info.ok()) << info.status();
  ProcessGroupOptions options;
  options.timeout = timeout;
  options.bucket_bytes = bucket_bytes;
  auto pg = CreateProcessGroup(*info, options);
  EXPECT_TRUE(pg.ok()) << pg.status();
  return pg.ok() ? std::move(pg).value() : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Collectives: exact results on every rank

// Rank r's tensors: (r + 1) * base + offset, so the mean over W ranks is base * (W + 1) / 2 +
// offset, exact in every dtype used here. Mixed sizes, dtypes, a non-contiguous and an empty
// tensor, and one larger than a bucket.
std::vector<torch::Tensor> RankTensors(int rank) {
  const double f = rank + 1;
  return {
      torch::arange(3, torch::kFloat) * f,
      torch::arange(1000, torch::kFloat) * f + 1,
      torch::zeros({0}),
      (torch::arange(85, torch::kFloat).reshape({17, 5}) * f).t(),
      torch::arange(300, torch::kDouble) * f + 3,
      torch::full({7}, f, torch::kBFloat16),
      torch::full({9}, -f, torch::kHalf),
      torch::tensor(2.0 * f),  // a scalar
  };
}

TEST(DistributedChild, Collectives) {
  SKIP_UNLESS_RANK();
  auto pg = GroupFromEnv(absl::Seconds(30), /*bucket_bytes=*/1024);
  ASSERT_NE(pg, nullptr);
  const int rank = pg->rank(), world = pg->world_size();

  // AllReduceMean: 1024-byte buckets, so the 4000-byte tensor alone spans four.
  std::vector<torch::Tensor> tensors = RankTensors(rank);
  ASSERT_TRUE(pg->AllReduceMean(tensors).ok());
  std::vector<torch::Tensor> expected = RankTensors(0);
  for (size_t i = 0; i < expected.size(); ++i) {
    for (int r = 1; r < world; ++r) expected[i] = expected[i] + RankTensors(r)[i];
    expected[i] = expected[i] / world;
    EXPECT_TRUE(torch::equal(tensors[i], expected[i])) << "tensor " << i << " on rank " << rank;
    EXPECT_EQ(tensors[i].sizes(), expected[i].sizes());
  }

  // Broadcast from the last rank, into a parameter that requires grad and any dtype.
  const int root = world - 1;
  auto make = [](int r) {
    torch::manual_seed(r);
    return std::vector<torch::Tensor>{torch::randn({4, 3}).requires_grad_(),
                                      torch::arange(50, torch::kLong) * (r + 1),
                                      torch::randn({6, 2}, torch::kDouble).t()};
  };
  std::vector<torch::Tensor> mine = make(rank);
  ASSERT_TRUE(pg->Broadcast(mine, root).ok());
  const std::vector<torch::Tensor> roots = make(root);
  for (size_t i = 0; i < roots.size(); ++i) {
    EXPECT_TRUE(torch::equal(mine[i], roots[i])) << "tensor " << i << " on rank " << rank;
  }

  // BroadcastBytes: sizes unknown to the receivers, including empty.
  std::string payload = rank == 0 ? std::string(300000, 'x') + "end" : "stale";
  ASSERT_TRUE(pg->BroadcastBytes(&payload, 0).ok());
  EXPECT_EQ(payload, std::string(300000, 'x') + "end");
  std::string empty = rank == root ? "" : "not yet empty";
  ASSERT_TRUE(pg->BroadcastBytes(&empty, root).ok());
  EXPECT_EQ(empty, "");

  ASSERT_TRUE(pg->Barrier().ok());
  MarkDone(rank);
}

TEST(DistributedTest, CollectivesOnTwoRanks) {
  Ranks ranks("Collectives");
  ranks.Spawn(0, 2);
  ranks.Spawn(1, 2);
  ranks.ExpectAllSucceed(absl::Seconds(60));
}

TEST(DistributedTest, CollectivesOnThreeRanks) {
  Ranks ranks("Collectives");
  for (int r = 0; r < 3; ++r) ranks.Spawn(r, 3);
  ranks.ExpectAllSucceed(absl::Seconds(60));
}

// ---------------------------------------------------------------------------------------------
// Training: data-parallel steps keep parameters bit-identical, and equal to one big batch

constexpr int kSteps = 4;
constexpr int64_t kBatch = 16;

// The same model (seeded) and batches on every caller.
struct Trainee {
  torch::nn::Linear sgd_model{nullptr};
  torch::nn::Linear adam_model{nullptr};
  torch::Tensor inputs, targets;  // [kSteps, kBatch, 6], [kSteps, kBatch, 3]
  Trainee() {
    torch::manual_seed(7);
    sgd_model = torch::nn::Linear(torch::nn::LinearOptions(6, 3));
    adam_model = torch::nn::Linear(torch::nn::LinearOptions(6, 3));
    inputs = torch::randn({kSteps, kBatch, 6});
    targets = torch::randn({kSteps, kBatch, 3});
  }
  // Parameters of both models, flattened, as bytes.
  std::string ParamBytes() const {
    std::string out;
    for (const auto& model : {sgd_model, adam_model}) {
      for (const torch::Tensor& p : model->parameters()) {
        const torch::Tensor c = p.detach().contiguous();
        out.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
      }
    }
    return out;
  }
};

// Trains both models for kSteps on rows [begin, end) of each batch. With a group, gradients are
// averaged over the ranks before each step.
void Train(Trainee& t, int64_t begin, int64_t end, ProcessGroup* pg) {
  torch::optim::SGD sgd(t.sgd_model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::Adam adam(t.adam_model->parameters(), torch::optim::AdamOptions(0.05));
  for (int step = 0; step < kSteps; ++step) {
    const torch::Tensor x = t.inputs[step].slice(0, begin, end);
    const torch::Tensor y = t.targets[step].slice(0, begin, end);
    sgd.zero_grad();
    adam.zero_grad();
    torch::mse_loss(t.sgd_model(x), y).backward();
    torch::mse_loss(t.adam_model(x), y).backward();
    if (pg != nullptr) {
      std::vector<torch::Tensor> grads;
      for (const auto& model : {t.sgd_model, t.adam_model}) {
        for (const torch::Tensor& p : model->parameters()) grads.push_back(p.grad());
      }
      ASSERT_TRUE(pg->AllReduceMean(grads).ok());
    }
    sgd.step();
    adam.step();
  }
}

TEST(DistributedChild, Train) {
  SKIP_UNLESS_RANK();
  auto pg = GroupFromEnv(absl::Seconds(30), /*bucket_bytes=*/64);
  ASSERT_NE(pg, nullptr);
  Trainee t;
  const int64_t shard = kBatch / pg->world_size();
  Train(t, pg->rank() * shard, (pg->rank() + 1) * shard, pg.get());
  WriteFile(absl::StrCat(OutDir(), "/params.", pg->rank()), t.ParamBytes());
  ASSERT_TRUE(pg->Barrier().ok());
  MarkDone(pg->rank());
}

TEST(DistributedTest, TrainingKeepsParametersBitIdenticalAndMatchesOneRank) {
  Ranks ranks("Train");
  const std::string p0 = RunTwoRanksForParams(ranks, absl::Seconds(60));
  ASSERT_FALSE(p0.empty());

  Trainee whole;  // one process, the whole batch
  const std::string before = whole.ParamBytes();
  Train(whole, 0, kBatch, nullptr);
  const std::string after = whole.ParamBytes();
  ASSERT_EQ(after.size(), p0.size());
  EXPECT_NE(after, before) << "training moved nothing; the test would prove nothing";
  EXPECT_LE(MaxFloatDifference(p0, after), 1e-5f);
}

// ---------------------------------------------------------------------------------------------
// The RL trainer over two ranks: identical parameters, and the update of one rank on the whole
// batch

constexpr int kRlSteps = 3;

// Trains a GRPO and a PPO policy for kRlSteps on fixed rollouts (the same on every rank; each
// rank trains its shard). Returns the parameters' bytes and appends each step's policy loss.
std::string TrainRl(int rank, int world, ProcessGroup* pg, std::vector<double>* losses) {
  std::string bytes;
  for (v1::Algorithm algorithm : {v1::ALGORITHM_GRPO, v1::ALGORITHM_PPO}) {
    v1::RunConfig config = rl_testing::TestConfig(algorithm, 4, 3);
    config.mutable_learner()->set_micro_batch_size(2);
    config.mutable_learner()->set_whiten_advantages(false);  // per-shard statistics otherwise
    // Adam divides by sqrt(v) + eps: with a tiny eps, float32 summation order (which sharding
    // changes) flips near-zero gradients into full-size updates. A large eps keeps the update
    // linear in the gradient, so parameters can be compared too, not only losses.
    config.mutable_learner()->mutable_optimizer()->set_eps(1e-3);
    Transformer policy = algorithm == v1::ALGORITHM_PPO
                             ? rl_testing::PolicyWithHead(5)
                             : testing_models::MakeModel(testing_models::Variant::kQwen2, 5);
    GradientAverager averager;
    if (pg != nullptr)
      averager = [pg](std::vector<torch::Tensor>& t) { return pg->AllReduceMean(t); };
    auto trainer = RlTrainer::Create(
        config, {policy, testing_models::MakeModel(testing_models::Variant::kQwen2, 5), nullptr},
        rank, world, averager);
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    if (!trainer.ok()) return "";
    for (int step = 0; step < kRlSteps; ++step) {
      Transformer sampler = testing_models::MakeModel(testing_models::Variant::kQwen2, 77);
      auto groups = rl_testing::Rollouts(
          sampler, rl_testing::Prompts(), 3, 500 + step,
          [](const Completion& c) { return static_cast<double>(c.token_ids.back() % 4); });
      auto batch = MakeRolloutBatch(groups, 0, 0);
      EXPECT_TRUE(batch.ok());
      auto stats = (*trainer)->Step(*batch);
      EXPECT_TRUE(stats.ok()) << stats.status();
      if (stats.ok()) losses->push_back(stats->policy_loss);
    }
    for (const torch::Tensor& p : policy->parameters()) {
      const torch::Tensor c = p.detach().contiguous();
      bytes.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
    }
  }
  return bytes;
}

TEST(DistributedChild, RlTrain) {
  SKIP_UNLESS_RANK();
  auto pg = GroupFromEnv(absl::Seconds(30), /*bucket_bytes=*/4096);
  ASSERT_NE(pg, nullptr);
  std::vector<double> losses;
  const std::string bytes = TrainRl(pg->rank(), pg->world_size(), pg.get(), &losses);
  WriteFile(absl::StrCat(OutDir(), "/params.", pg->rank()), bytes);
  std::string text;
  for (double l : losses) absl::StrAppend(&text, absl::StrFormat("%.17g\n", l));
  WriteFile(absl::StrCat(OutDir(), "/losses.", pg->rank()), text);
  ASSERT_TRUE(pg->Barrier().ok());
  MarkDone(pg->rank());
}

TEST(DistributedTest, RlTrainerRanksStayIdenticalAndMatchOneRank) {
  Ranks ranks("RlTrain");
  const std::string p0 = RunTwoRanksForParams(ranks, absl::Seconds(120));
  ASSERT_FALSE(p0.empty());
  EXPECT_EQ(ReadFile(ranks.out_dir() + "/losses.0"), ReadFile(ranks.out_dir() + "/losses.1"));

  std::vector<double> single_losses;
  const std::string single = TrainRl(0, 1, nullptr, &single_losses);
  ASSERT_EQ(single.size(), p0.size());
  EXPECT_LE(MaxFloatDifference(p0, single), 1e-5f);
  std::vector<double> dp_losses;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(ranks.out_dir() + "/losses.0"), '\n', absl::SkipEmpty())) {
    double v = 0;
    ASSERT_TRUE(absl::SimpleAtod(line, &v));
    dp_losses.push_back(v);
  }
  ASSERT_EQ(dp_losses.size(), single_losses.size());
  for (size_t i = 0; i < dp_losses.size(); ++i) {
    EXPECT_NEAR(dp_losses[i], single_losses[i], 1e-5) << "step " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// A hung peer: an error within the timeout, never a hang

TEST(DistributedChild, HungPeer) {
  SKIP_UNLESS_RANK();
  auto pg = GroupFromEnv(absl::Seconds(2), /*bucket_bytes=*/1 << 20);
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(pg->Barrier().ok());
  std::vector<torch::Tensor> grads = {torch::ones({1000})};
  if (pg->rank() == 1) {
    raise(SIGSTOP);  // frozen with its sockets open, like a wedged process; the parent resumes it
                     // once rank 0 has exited. Then rank 0 is gone: an error again, not a hang.
    const absl::Time start = absl::Now();
    const absl::Status s = pg->AllReduceMean(grads);
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr("rank 0 may be hung or gone"));
    EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << s;
    WriteFile(OutDir() + "/status.1", s.ToString());
    MarkDone(1);
    return;
  }
  const absl::Time start = absl::Now();
  const absl::Status s = pg->AllReduceMean(grads);
  const absl::Duration took = absl::Now() - start;
  WriteFile(OutDir() + "/status.0", s.ToString());
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("did not reach this collective: rank 1"));
  EXPECT_GE(took, absl::Milliseconds(1900));
  EXPECT_LT(took, absl::Seconds(5)) << "timeout 2s plus slack";
  // The group is broken now: later calls fail at once and carry the first error.
  const absl::Status again = pg->Barrier();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.message()), HasSubstr("rank 1"));
  MarkDone(0);
}

TEST(DistributedTest, HungPeerGivesAnErrorNamingItNotAHang) {
  Ranks ranks("HungPeer");
  ranks.Spawn(0, 2);
  ranks.Spawn(1, 2);
  int status = 0;
  ASSERT_TRUE(ranks.Wait(1, absl::Seconds(30), &status, /*stopped=*/true));
  ASSERT_TRUE(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP) << status;
  ASSERT_TRUE(ranks.Wait(0, absl::Seconds(30), &status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(ranks.Done(0));
  std::cout << "rank 0 saw: " << ReadFile(ranks.out_dir() + "/status.0") << "\n";

  ASSERT_EQ(kill(ranks.pid(1), SIGCONT), 0);
  ASSERT_TRUE(ranks.Wait(1, absl::Seconds(30), &status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(ranks.Done(1));
  std::cout << "rank 1, resumed after rank 0 exited, saw: "
            << ReadFile(ranks.out_dir() + "/status.1") << "\n";
}

}  // namespace
}  // namespace pelican
