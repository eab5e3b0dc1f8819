// The whole pipeline against its stages, each figure measured in the same run:
//
//  1. Stages alone, each pinned to a core of its own, as each role has its own GPU on a cluster:
//       rollout  (CPU 1): Generate + Score through a real `pelican reward` (also on CPU 1), the
//                         actor's own code (actor/rollout.h), prompts_per_batch prompts a round
//       training (CPU 0): RlTrainer::Step on batches of those real trajectories
//  2. The pipeline with the same placement: `pelican learner` on CPU 0, `pelican reward` and one
//     `pelican actor` on CPU 1. Samples trained per second in steady state ÷ the slower stage's
//     samples per second (goal >= 0.85): what the asynchronous design loses to leases, pushes,
//     weight publishing and samples dropped as stale.
//  3. 1 → 2 actors, unpinned (every process may use both cores): samples/s and samples per
//     CPU-second of all processes together. On 2 cores a second actor can only help while the
//     first leaves a core idle; per CPU-second shows what it costs.
//
// One thread per process throughout (learner.threads, actors.threads, reward.threads = 1). The
// guard's probe and checkpoints are off: they are periodic work outside the data flow.
//
// Usage: pipeline_bench PELICAN [CONFIG] [STEPS]
//   PELICAN  the pelican binary (build/cli/pelican)
//   CONFIG   default examples/arithmetic-grpo.yaml; a short SFT stage makes its policy first, and
//            `pelican rm` the reward model when its reward_model scorer reads rm.output
//   STEPS    training steps of each pipeline run (default 60; the first 10 are warm-up)
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actor/rollout.h"
#include "bench/bench_util.h"
#include "common/config.h"
#include "common/model/hf_model.h"
#include "common/net.h"
#include "common/runtime.h"
#include "common/status_macros.h"
#include "common/tokenizer/tokenizer.h"
#include "learner/jsonl_prompt_source.h"
#include "learner/rl_trainer.h"
#include "learner/task_data.h"
#include "nlohmann/json.hpp"

namespace pelican {
namespace {

namespace fs = std::filesystem;

constexpr double kStageSeconds = 8.0;
constexpr uint64_t kWarmupSteps = 10;

void PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  PELICAN_CHECK(sched_setaffinity(0, sizeof(set), &set) == 0);
}

// A child process running `args`, output appended to `log`; `cpu` >= 0 pins it to that core.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log, int cpu) {
  const pid_t pid = fork();
  PELICAN_CHECK(pid >= 0);
  if (pid == 0) {
    if (cpu >= 0) PinTo(cpu);
    FILE* out = freopen(log.c_str(), "a", stdout);
    PELICAN_CHECK(out != nullptr && dup2(fileno(stdout), STDERR_FILENO) >= 0);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// utime + stime of a live process, seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  std::vector<std::string> f = absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  PELICAN_CHECK(f.size() > 13);
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The pelican command line shared by every process of one bench run.
struct Setup {
  std::string pelican;
  std::string config_path;
  std::vector<std::string> sets;  // "--set", "k=v", ...
  v1::RunConfig config;

  std::vector<std::string> Args(const std::vector<std::string>& head,
                                const std::vector<std::string>& tail = {}) const {
    std::vector<std::string> args = {pelican};
    args.insert(args.end(), head.begin(), head.end());
    args.push_back(config_path);
    args.insert(args.end(), sets.begin(), sets.end());
    args.insert(args.end(), tail.begin(), tail.end());
    return args;
  }
};

// The prompts of the task's training set, as the learner leases them.
std::vector<v1::LeasedPrompt> TrainPrompts(const Setup& s, const Tokenizer& tokenizer) {
  absl::StatusOr<TaskFiles> files =
      PrepareTaskData(s.config.task(), s.config.run().seed(), s.config.run().dir() + "/data");
  PELICAN_CHECK_OK(files.status());
  JsonlPromptSourceOptions options;
  options.prompt_key = s.config.task().prompt_key();
  options.reference_key = s.config.task().reference_key();
  auto source = JsonlPromptSource::Open(files->train, options, [&](const std::string& text) {
    return tokenizer.EncodeWithSpecial(text);
  });
  PELICAN_CHECK_OK(source.status());
  std::vector<v1::LeasedPrompt> prompts;
  for (size_t i = 0; i < (*source)->size(); ++i) {
    absl::StatusOr<Prompt> p = (*source)->Next();
    PELICAN_CHECK_OK(p.status());
    v1::LeasedPrompt lp;
    lp.set_lease_id(i + 1);
    lp.mutable_prompt_ids()->Add(p->token_ids.begin(), p->token_ids.end());
    lp.set_prompt_text(p->text);
    for (const auto& [k, v] : p->metadata) (*lp.mutable_metadata())[k] = v;
    prompts.push_back(std::move(lp));
  }
  return prompts;
}

// Stage 1a: rollouts on CPU 1 for kStageSeconds. Returns samples/s; fills `groups` with what it
// made, for the training stage.
double RolloutAlone(const Setup& s, const std::string& reward_target,
                    std::vector<PromptGroup>* groups) {
  PinTo(1);
  const v1::RunConfig& c = s.config;
  auto tokenizer = Tokenizer::FromFile(TokenizerPath(c.model()));
  PELICAN_CHECK_OK(tokenizer.status());
  LoadOptions load;
  load.dtype = torch::kFloat32;
  absl::StatusOr<LoadedModel> model = LoadModel(c.model().policy(), load);
  PELICAN_CHECK_OK(model.status());
  const std::vector<v1::LeasedPrompt> prompts = TrainPrompts(s, **tokenizer);
  absl::StatusOr<GenerateOptions> generate = ActorGenerateOptions(c, model->generation);
  PELICAN_CHECK_OK(generate.status());
  absl::StatusOr<RpcSettings> rpc = RpcSettings::FromConfig(c.security(), c.rpc());
  PELICAN_CHECK_OK(rpc.status());
  RewardClient reward(reward_target, *rpc, RetryPolicy(),
                      absl::Seconds(c.actors().score_deadline_s()));
  // The reward service was just started: wait until it answers.
  for (int i = 0; !reward.Info().ok(); ++i) {
    PELICAN_CHECK(i < 300) << "the reward service at " << reward_target << " did not start";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  at::Generator gen = at::detail::createCPUGenerator(c.run().seed());
  const size_t per_round = c.actors().prompts_per_batch();
  size_t next = 0;
  int64_t samples = 0;
  const double start = bench::Now();
  while (bench::Now() - start < kStageSeconds) {
    google::protobuf::RepeatedPtrField<v1::LeasedPrompt> round;
    for (size_t i = 0; i < per_round; ++i) *round.Add() = prompts[next++ % prompts.size()];
    absl::StatusOr<Rollouts> r = GenerateAndScore(model->model, **tokenizer, round, *generate, gen,
                                                  reward, {"bench", "", 1});
    PELICAN_CHECK_OK(r.status());
    PELICAN_CHECK_OK(r->score_status);
    samples += static_cast<int64_t>(r->trajectories.size());
    std::map<uint64_t, PromptGroup> by_lease;
    for (v1::Trajectory& t : r->trajectories) {
      PromptGroup& g = by_lease[t.lease_id()];
      g.lease_id = t.lease_id();
      g.prompt.token_ids.assign(t.prompt_ids().begin(), t.prompt_ids().end());
      g.samples.push_back(std::move(t));
    }
    for (auto& [lease, g] : by_lease) groups->push_back(std::move(g));
  }
  return static_cast<double>(samples) / (bench::Now() - start);
}

// Stage 1b: RlTrainer::Step on CPU 0 for kStageSeconds, on batches of prompts_per_step groups.
double TrainingAlone(const Setup& s, const std::vector<PromptGroup>& groups) {
  PinTo(0);
  const v1::RunConfig& c = s.config;
  const bool ppo = c.learner().algorithm() == v1::ALGORITHM_PPO;
  const bool value_head = ppo && c.learner().value_model() == v1::VALUE_MODEL_HEAD;
  LoadOptions load;
  load.dtype = torch::kFloat32;
  load.value_head = value_head;
  absl::StatusOr<LoadedModel> policy = LoadModel(c.model().policy(), load);
  PELICAN_CHECK_OK(policy.status());
  RlModels models;
  models.policy = policy->model;
  LoadOptions other = load;
  if (c.learner().kl().coef() > 0) {
    other.value_head = false;
    absl::StatusOr<LoadedModel> ref = LoadModel(c.model().policy(), other);
    PELICAN_CHECK_OK(ref.status());
    models.reference = ref->model;
  }
  if (ppo && !value_head) {
    other.value_head = true;
    absl::StatusOr<LoadedModel> critic = LoadModel(c.model().policy(), other);
    PELICAN_CHECK_OK(critic.status());
    models.critic = critic->model;
  }
  auto trainer = RlTrainer::Create(c, models, 0, 1);
  PELICAN_CHECK_OK(trainer.status());
  const size_t per_step = c.learner().prompts_per_step();
  PELICAN_CHECK(groups.size() >= per_step);
  const int64_t pad = policy->generation.pad_token_id.value_or(0);
  size_t next = 0;
  int64_t samples = 0;
  const double start = bench::Now();
  while (bench::Now() - start < kStageSeconds) {
    std::vector<PromptGroup> step(per_step);
    for (PromptGroup& g : step) g = groups[next++ % groups.size()];
    absl::StatusOr<RolloutBatch> batch = MakeRolloutBatch(step, pad, 1);
    PELICAN_CHECK_OK(batch.status());
    PELICAN_CHECK_OK((*trainer)->Step(*batch).status());
    samples += batch->rows();
  }
  return static_cast<double>(samples) / (bench::Now() - start);
}

struct PipelineResult {
  double samples_per_s = 0.0;
  double samples_per_cpu_s = 0.0;
  double seconds = 0.0;      // the window's
  double cpu_seconds = 0.0;  // of every process in the window
  uint64_t stale = 0;        // samples' prompts dropped as stale over the whole run
};

// One `pelican learner` + `actors` × `pelican actor` run of `steps` steps against the reward
// service at `reward_port`. `pin` places the learner on CPU 0 and the actors on CPU 1. The
// window is steps (kWarmupSteps, steps - 1]: samples trained in it ÷ its seconds, and ÷ the CPU
// seconds every process (reward included) spent in it.
PipelineResult Pipeline(const Setup& s, const std::string& dir, int reward_port, pid_t reward,
                        int actors, bool pin, uint64_t steps) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string learner_addr = absl::StrCat("127.0.0.1:", *PickFreePort("127.0.0.1"));
  std::vector<std::string> run_sets = {"--set", "run.dir=" + dir, "--set",
                                       absl::StrCat("learner.total_steps=", steps)};
  std::vector<pid_t> pids;
  pids.push_back(Spawn(
      s.Args({"learner"},
             [&] {
               std::vector<std::string> t = run_sets;
               t.insert(t.end(), {"--listen", learner_addr, "--metrics_listen", "127.0.0.1:0"});
               return t;
             }()),
      dir + "/learner.log", pin ? 0 : -1));
  for (int a = 0; a < actors; ++a) {
    std::vector<std::string> t = run_sets;
    t.insert(t.end(),
             {"--learner", learner_addr, "--reward", absl::StrCat("127.0.0.1:", reward_port),
              "--metrics_listen", "127.0.0.1:0", "--name", absl::StrCat("actor-", a + 1)});
    pids.push_back(
        Spawn(s.Args({"actor"}, t), absl::StrCat(dir, "/actor-", a + 1, ".log"), pin ? 1 : -1));
  }
  std::vector<pid_t> measured = pids;
  measured.push_back(reward);
  // Follows metrics.jsonl: the window opens after kWarmupSteps and closes at steps - 1, while
  // every process still runs.
  const std::string metrics = dir + "/metrics.jsonl";
  const size_t rows =
      size_t{s.config.learner().prompts_per_step()} * s.config.actors().sampling().n();
  double t0 = 0, t1 = 0, cpu0 = 0, cpu1 = 0;
  auto cpu = [&] {
    double sum = 0;
    for (pid_t p : measured) sum += CpuSeconds(p);
    return sum;
  };
  uint64_t seen = 0;
  while (seen < steps - 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(metrics);
    std::string line, last;
    while (std::getline(in, line)) last = line;
    if (last.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(last, nullptr, false);
    if (!j.is_object()) continue;
    const uint64_t step = j.value("step", uint64_t{0});
    if (step >= kWarmupSteps && t0 == 0) {
      t0 = j.value("elapsed_s", 0.0);
      cpu0 = cpu();
      seen = step;
    }
    if (step >= steps - 1 && t0 > 0) {
      t1 = j.value("elapsed_s", 0.0);
      cpu1 = cpu();
      PipelineResult r;
      const double samples = static_cast<double>((step - seen) * rows);
      r.samples_per_s = samples / (t1 - t0);
      r.samples_per_cpu_s = samples / (cpu1 - cpu0);
      r.seconds = t1 - t0;
      r.cpu_seconds = cpu1 - cpu0;
      seen = step;
      for (pid_t p : pids) WaitExit(p);
      std::ifstream summary(dir + "/summary.json");
      const nlohmann::json sj = nlohmann::json::parse(summary, nullptr, false);
      if (sj.is_object()) r.stale = sj["ledger"]["dropped"].value("stale", uint64_t{0});
      return r;
    }
  }
  return {};
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pipeline_bench PELICAN [CONFIG] [STEPS]\n");
    return 2;
  }
  Setup s;
  s.pelican = fs::absolute(argv[1]).string();
  s.config_path = argc > 2 ? argv[2] : PELICAN_SOURCE_DIR_DEFAULT "/examples/arithmetic-grpo.yaml";
  const uint64_t steps = argc > 3 ? std::stoull(argv[3]) : 60;
  const std::string work = fs::temp_directory_path() / absl::StrCat("pipeline_bench.", getpid());
  fs::create_directories(work);
  s.sets = {"--set", "run.dir=" + work,     "--set", "model.policy=" + work + "/sft",
            "--set", "sft.steps=400",       "--set", "learner.threads=1",
            "--set", "actors.threads=1",    "--set", "reward.threads=1",
            "--set", "guard.enabled=false", "--set", "learner.checkpoint.every_steps=0"};
  // A reward model the training reward reads (rm.output) is trained into the scratch directory.
  absl::StatusOr<v1::RunConfig> as_shipped = LoadRunConfig(s.config_path);
  PELICAN_CHECK_OK(as_shipped.status());
  bool needs_rm = false;
  for (int i = 0; i < as_shipped->reward().scorers_size(); ++i) {
    const auto& paths = as_shipped->reward().scorers(i).reward_model().paths();
    if (paths.size() == 1 && paths[0] == as_shipped->rm().output()) {
      needs_rm = true;
      s.sets.insert(s.sets.end(), {"--set", absl::StrCat("reward.scorers[", i,
                                                         "].reward_model.paths=[", work, "/rm]")});
    }
  }
  if (needs_rm) s.sets.insert(s.sets.end(), {"--set", "rm.output=" + work + "/rm"});
  std::vector<std::string> overrides;
  for (size_t i = 1; i < s.sets.size(); i += 2) overrides.push_back(s.sets[i]);
  absl::StatusOr<v1::RunConfig> config = LoadRunConfig(s.config_path, overrides);
  PELICAN_CHECK_OK(config.status());
  s.config = *config;
  ConfigureThreads(1);

  std::printf("pipeline_bench: %s, scratch %s\n", s.config_path.c_str(), work.c_str());
  std::fflush(stdout);
  PELICAN_CHECK(WaitExit(Spawn(s.Args({"sft"}), work + "/sft.log", -1)) == 0);
  if (needs_rm) PELICAN_CHECK(WaitExit(Spawn(s.Args({"rm"}), work + "/rm.log", -1)) == 0);

  const int reward_port = *PickFreePort("127.0.0.1");
  const std::string reward_target = absl::StrCat("127.0.0.1:", reward_port);
  std::vector<std::string> reward_tail = {"--listen", reward_target, "--metrics_listen",
                                          "127.0.0.1:0"};
  pid_t reward = Spawn(s.Args({"reward"}, reward_tail), work + "/reward.log", 1);
  std::vector<PromptGroup> groups;
  const double rollout = RolloutAlone(s, reward_target, &groups);
  const double training = TrainingAlone(s, groups);
  const double slowest = std::min(rollout, training);
  std::printf(
      "stages alone, one core each: rollout %.1f samples/s (CPU 1, with the reward "
      "service), training %.1f samples/s (CPU 0)\n",
      rollout, training);
  std::fflush(stdout);

  const PipelineResult pinned = Pipeline(s, work + "/pinned", reward_port, reward, 1, true, steps);
  std::printf(
      "pipeline, learner on CPU 0, reward + 1 actor on CPU 1: %.1f samples/s "
      "(%llu stale drops)\n  ÷ slowest stage (%s, %.1f/s) = %.3f   goal >= 0.85\n",
      pinned.samples_per_s, static_cast<unsigned long long>(pinned.stale),
      rollout < training ? "rollout" : "training", slowest, pinned.samples_per_s / slowest);
  std::fflush(stdout);

  kill(reward, SIGTERM);
  WaitExit(reward);
  reward = Spawn(s.Args({"reward"}, reward_tail), work + "/reward-unpinned.log", -1);
  PipelineResult by_actors[2];
  for (int a = 1; a <= 2; ++a) {
    by_actors[a - 1] =
        Pipeline(s, absl::StrCat(work, "/actors-", a), reward_port, reward, a, false, steps);
    const PipelineResult& r = by_actors[a - 1];
    std::printf(
        "unpinned, %d actor(s): %.1f samples/s, %.1f samples per CPU-second (%.1f s, "
        "%.1f CPU-s; %llu stale drops)\n",
        a, r.samples_per_s, r.samples_per_cpu_s, r.seconds, r.cpu_seconds,
        static_cast<unsigned long long>(r.stale));
    std::fflush(stdout);
  }
  std::printf("1 -> 2 actors: samples/s x %.3f, samples per CPU-second x %.3f\n",
              by_actors[1].samples_per_s / by_actors[0].samples_per_s,
              by_actors[1].samples_per_cpu_s / by_actors[0].samples_per_cpu_s);
  kill(reward, SIGTERM);
  WaitExit(reward);
  fs::remove_all(work);
  return 0;
}

}  // namespace
}  // namespace pelican

int main(int argc, char** argv) { return pelican::Main(argc, argv); }
