// `pelican run CONFIG [--run_dir DIR] [--set key=value]...`: the whole pipeline on this machine.
//
//   SFT stage (when model.policy does not exist yet) ─► reward-model stage (when a reward_model
//   scorer reads rm.output and it does not exist yet) ─► eval before
//   ─► processes on loopback, free ports: pelican reward, pelican learner, N × pelican actor
//      (logs in <run_dir>/logs/, Prometheus file-discovery targets in prometheus_targets.json)
//   ─► supervise: progress line from metrics.jsonl; a crashed actor or reward service is
//      restarted; Ctrl-C / SIGTERM asks the learner to checkpoint and stop, then stops the rest
//   ─► eval after (the newest checkpoint) ─► summary.json, report.html
//
// Every child runs this same binary, so the processes are exactly what `pelican learner|actor|
// reward` start on a cluster.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/app.h"
#include "cli/report.h"
#include "cli/role_setup.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/net.h"
#include "common/runtime.h"
#include "common/signals.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"
#include "learner/evaluation.h"
#include "learner/reward_model_trainer.h"
#include "learner/sft.h"
#include "nlohmann/json.hpp"

namespace pelican::cli {
namespace {

namespace fs = std::filesystem;

struct Child {
  std::string name;  // "learner", "reward", "actor-1"
  std::vector<std::string> args;
  std::string log;
  pid_t pid = -1;
  int restarts = 0;
  int metrics_port = 0;
  bool exited = false;
  int status = 0;
};

absl::Status Spawn(Child& child) {
  std::vector<char*> argv;
  static std::string self = fs::read_symlink("/proc/self/exe").string();
  argv.push_back(const_cast<char*>(self.c_str()));
  for (std::string& a : child.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int fd = open(child.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot write ", child.log));
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // The child: dies with the supervisor, starts with no signal blocked (the watcher of this
    // process blocked them, and a blocked mask survives exec), logs into its file.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fd);
  child.pid = pid;
  child.exited = false;
  return absl::OkStatus();
}

// Reaps `child` if it has exited; true when it has.
bool Reap(Child& child) {
  if (child.exited || child.pid <= 0) return true;
  int status = 0;
  if (waitpid(child.pid, &status, WNOHANG) == child.pid) {
    child.exited = true;
    child.status = status;
    return true;
  }
  return false;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return "unknown";
}

// Sends `sig`, waits up to `grace` for the exit, then SIGKILL.
void Stop(Child& child, int sig, std::chrono::seconds grace) {
  if (Reap(child)) return;
  kill(child.pid, sig);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Reap(child)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(child.pid, SIGKILL);
  waitpid(child.pid, &child.status, 0);
  child.exited = true;
}

// Follows metrics.jsonl and prints one progress line per new step (or rewrites it on a TTY).
class Progress {
 public:
  Progress(std::string path, uint64_t total) : path_(std::move(path)), total_(total) {}

  void Poll() {
    std::ifstream in(path_);
    if (!in) return;
    in.seekg(offset_);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // a partial line: read it next time
      offset_ += static_cast<std::streamoff>(line.size() + 1);
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      const uint64_t step = j.value("step", uint64_t{0});
      const double elapsed = j.value("elapsed_s", 0.0);
      if (first_step_ == 0) {
        first_step_ = step;
        first_elapsed_ = elapsed;
      }
      const double per_step =
          step > first_step_ ? (elapsed - first_elapsed_) / static_cast<double>(step - first_step_)
                             : 0.0;
      const double eta = per_step * static_cast<double>(total_ - std::min(total_, step));
      if (j.contains("gold_score"))
        gold_ = absl::StrFormat(" | gold %.3f", j.value("gold_score", 0.0));
      const std::string text = absl::StrFormat(
          "step %d/%d | reward %.3f%s | KL %.4f | entropy %.3f | len %.1f | %.0f tok/s | ETA %ds",
          step, total_, j.value("reward_mean", 0.0), gold_, j.value("kl", 0.0),
          j.value("entropy", 0.0), j.value("response_length", 0.0), j.value("tokens_per_s", 0.0),
          static_cast<int>(std::lround(eta)));
      if (isatty(STDOUT_FILENO)) {
        std::cout << "\r" << text << "   " << std::flush;
      } else {
        std::cout << text << "\n" << std::flush;
      }
    }
  }

 private:
  const std::string path_;
  const uint64_t total_;
  std::streamoff offset_ = 0;
  uint64_t first_step_ = 0;
  double first_elapsed_ = 0;
  std::string gold_;  // the latest gold probe, shown until the next
};

absl::Status WriteTargets(const std::string& path, const std::string& run_name,
                          const std::vector<Child*>& children) {
  nlohmann::json targets = nlohmann::json::array();
  for (const Child* c : children) {
    const std::string role = c->name.substr(0, c->name.find('-'));
    targets.push_back({{"targets", {absl::StrCat("127.0.0.1:", c->metrics_port)}},
                       {"labels", {{"role", role}, {"run", run_name}, {"process", c->name}}}});
  }
  return WriteFileAtomic(path, targets.dump(2) + "\n");
}

absl::Status MergeSummary(const std::string& path, const nlohmann::json& update) {
  nlohmann::json summary = nlohmann::json::object();
  if (absl::StatusOr<std::string> old = ReadFile(path); old.ok()) {
    nlohmann::json parsed = nlohmann::json::parse(*old, nullptr, false);
    if (parsed.is_object()) summary = parsed;
  }
  summary.update(update);
  return WriteFileAtomic(path, summary.dump(2) + "\n");
}

// What `pelican eval` prints, as summary.json's eval.before / eval.after.
nlohmann::json EvalSummary(const EvalResult& r, const std::string& checkpoint) {
  return nlohmann::json::parse(EvalJson(r, checkpoint));
}

// Whether a reward_model scorer of the training reward reads rm.output, which does not exist yet.
bool NeedsRewardModel(const v1::RunConfig& config) {
  const std::string& output = config.rm().output();
  if (output.empty() || fs::exists(output + "/config.json")) return false;
  for (const v1::ScorerSpec& spec : config.reward().scorers()) {
    for (const std::string& path : spec.reward_model().paths()) {
      if (path == output) return true;
    }
  }
  return false;
}

// One line on what the reward-hacking guard saw (summary.json's "guard"), and where the samples
// it harvested are.
void PrintGuardOutcome(const nlohmann::json& g, const v1::RunConfig& config,
                       const std::string& run_dir) {
  if (!g.value("enabled", false)) return;
  std::string line = "[guard] ";
  if (g.value("tripped", false)) {
    absl::StrAppendFormat(&line, "tripped at step %d on %s (action %s)", g.value("step", 0),
                          g.value("reason", ""), g.value("action", ""));
  } else {
    line += "not tripped";
  }
  if (g.contains("best_score")) {
    absl::StrAppendFormat(&line, "; best gold score %.3f at step %d", g.value("best_score", 0.0),
                          g.value("best_step", 0));
  }
  const std::string harvest = config.guard().harvest_file().empty() ? run_dir + "/harvest.jsonl"
                                                                    : config.guard().harvest_file();
  if (absl::StatusOr<std::string> text = ReadFile(harvest); text.ok()) {
    absl::StrAppendFormat(&line, "; %d high-reward, low-gold samples harvested to %s",
                          std::count(text->begin(), text->end(), '\n'), harvest);
  }
  std::cout << line << "\n";
}

int RunPipeline(const ConfigArgs& config_args) {
  SignalWatcher& signals = SignalWatcher::Install();
  SetLogRole("run");
  auto loaded = LoadConfig(config_args);
  if (!loaded.ok()) return ReportError(loaded.status());
  const v1::RunConfig config = *loaded;
  ConfigureThreads(config.learner().threads());
  const std::string run_dir = config.run().dir();
  const std::string logs = run_dir + "/logs";
  if (absl::Status s = MakeDirs(logs); !s.ok()) return ReportError(s);
  std::cout << "pelican run: " << config.run().name() << " in " << run_dir << "\n";

  // Stage 1: SFT, when the policy RL starts from is not there yet.
  const std::string policy = config.model().policy();
  if (!fs::exists(policy + "/config.json")) {
    std::cout << "[sft] " << policy << " does not exist: supervised fine-tuning ("
              << config.sft().steps() << " steps)\n"
              << std::flush;
    auto sft = RunSft(config, run_dir);
    if (!sft.ok()) return ReportError(Annotate(sft.status(), "sft stage"));
    std::cout << absl::StrFormat("[sft] loss %.3f -> %.3f on %d demonstrations, wrote %s\n",
                                 sft->first_loss, sft->last_loss, sft->examples, sft->output);
  }
  // Stage 1b: the reward model the training reward reads, when it is not there yet.
  std::optional<RmResult> rm;
  if (NeedsRewardModel(config)) {
    std::cout << "[rm] " << config.rm().output() << " does not exist: training the reward model ("
              << config.rm().steps() << " steps)\n"
              << std::flush;
    auto trained = TrainRewardModel(config);
    if (!trained.ok()) return ReportError(Annotate(trained.status(), "reward-model stage"));
    rm = *trained;
    std::cout << absl::StrFormat(
        "[rm] held-out pairwise accuracy %.3f (%.3f untrained) on %d pairs, wrote %s\n",
        rm->eval_accuracy, rm->eval_accuracy_before, rm->eval_pairs, rm->output);
  }
  const std::string summary_path = run_dir + "/summary.json";
  auto before = EvaluatePolicy(config, policy, run_dir);
  if (!before.ok()) return ReportError(Annotate(before.status(), "evaluating the start"));
  std::cout << absl::StrFormat("[eval] before RL: score %.3f on %d held-out examples\n",
                               before->score, before->examples)
            << std::flush;

  // Stage 2: the processes.
  std::vector<std::string> common = {config_args.path};
  for (const std::string& o : config_args.EffectiveOverrides()) {
    common.push_back("--set");
    common.push_back(o);
  }
  // The processes share this machine's cores and compute at once (actors generate while the
  // learner trains). A role left at threads 0 gets an equal share of the cores rather than all of
  // them: OpenMP teams larger than the free cores make every parallel region wait for a thread
  // that is not running (on 2 cores, two processes of 2 threads each ran SFT 40x slower than one).
  // OMP_NUM_THREADS, when set, is the user's choice and is left to apply.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    const int share = std::max(1, AvailableCores() / static_cast<int>(2 + config.actors().count()));
    for (const auto& [role, threads] :
         {std::pair<std::string, uint32_t>{"learner", config.learner().threads()},
          {"actors", config.actors().threads()},
          {"reward", config.reward().threads()}}) {
      if (threads != 0) continue;
      common.push_back("--set");
      common.push_back(absl::StrCat(role, ".threads=", share));
    }
  }
  auto port = [](absl::StatusOr<int> p) { return p.ok() ? *p : 0; };
  const int reward_port = port(PickFreePort("127.0.0.1"));
  const int learner_port = port(PickFreePort("127.0.0.1"));
  if (reward_port == 0 || learner_port == 0) {
    return ReportError(absl::UnavailableError("no free loopback port"));
  }
  auto make = [&](const std::string& name, std::vector<std::string> role_args) {
    Child c;
    c.name = name;
    c.metrics_port = port(PickFreePort("127.0.0.1"));
    c.args = {role_args.front()};
    c.args.insert(c.args.end(), common.begin(), common.end());
    c.args.insert(c.args.end(), role_args.begin() + 1, role_args.end());
    c.args.push_back("--metrics_listen");
    c.args.push_back(absl::StrCat("127.0.0.1:", c.metrics_port));
    c.log = absl::StrCat(logs, "/", name, ".log");
    return c;
  };
  Child reward = make("reward", {"reward", "--listen", absl::StrCat("127.0.0.1:", reward_port)});
  Child learner =
      make("learner", {"learner", "--listen", absl::StrCat("127.0.0.1:", learner_port)});
  std::vector<Child> actors;
  for (uint32_t i = 0; i < config.actors().count(); ++i) {
    actors.push_back(
        make(absl::StrCat("actor-", i + 1),
             {"actor", "--learner", absl::StrCat("127.0.0.1:", learner_port), "--reward",
              absl::StrCat("127.0.0.1:", reward_port), "--name", absl::StrCat("actor-", i + 1)}));
  }
  std::vector<Child*> all = {&reward, &learner};
  for (Child& a : actors) all.push_back(&a);
  for (Child* c : all) {
    if (absl::Status s = Spawn(*c); !s.ok()) return ReportError(s);
  }
  if (absl::Status s = WriteTargets(run_dir + "/prometheus_targets.json", config.run().name(), all);
      !s.ok()) {
    return ReportError(s);
  }
  std::cout << "[run] reward :" << reward_port << ", learner :" << learner_port << ", "
            << actors.size() << " actors; logs in " << logs << "\n"
            << std::flush;

  Progress progress(run_dir + "/metrics.jsonl", config.learner().total_steps());
  bool stopping = false;
  constexpr int kMaxRestarts = 20;
  while (!Reap(learner)) {
    if (signals.shutdown_requested() && !stopping) {
      stopping = true;
      std::cout << "\n[run] stopping: the learner writes a final checkpoint\n" << std::flush;
      kill(learner.pid, SIGTERM);
    }
    // A service that ended with a failure is restarted (one that exits 0 was told to stop).
    for (Child* c : all) {
      if (c == &learner || stopping || !Reap(*c) ||
          (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0) || c->restarts >= kMaxRestarts) {
        continue;
      }
      PELICAN_LOG(WARNING) << c->name << " ended (" << Describe(c->status) << "); restarting";
      ++c->restarts;
      (void)Spawn(*c);
    }
    progress.Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  progress.Poll();
  std::cout << "\n[run] learner ended (" << Describe(learner.status) << ")\n" << std::flush;
  for (Child& a : actors) Stop(a, SIGTERM, std::chrono::seconds(15));
  Stop(reward, SIGTERM, std::chrono::seconds(15));
  const bool learner_ok = WIFEXITED(learner.status) && WEXITSTATUS(learner.status) == 0;

  // Stage 3: the kept checkpoint's score, the summary and the report.
  nlohmann::json update = {{"eval", {{"before", EvalSummary(*before, policy)}}}};
  if (rm) {
    update["rm"] = {{"eval_accuracy", rm->eval_accuracy},
                    {"eval_accuracy_before", rm->eval_accuracy_before},
                    {"train_pairs", rm->train_pairs},
                    {"eval_pairs", rm->eval_pairs},
                    {"output", rm->output}};
  }
  int restarts = 0;
  for (const Child* c : all) restarts += c->restarts;
  update["restarts"] = restarts;
  // The kept checkpoint: the guard's best by the gold probe, else the last one.
  std::string kept;
  if (absl::StatusOr<std::string> text = ReadFile(summary_path); text.ok()) {
    const nlohmann::json s = nlohmann::json::parse(*text, nullptr, false);
    if (s.is_object() && s.contains("guard")) {
      const nlohmann::json& g = s["guard"];
      kept = g.value("kept_checkpoint", "");
      PrintGuardOutcome(g, config, run_dir);
    }
  }
  if (kept.empty()) {
    if (auto latest = FindLatestCheckpoint(run_dir + "/checkpoints"); latest.ok()) {
      kept = latest->dir;
    }
  }
  std::optional<EvalResult> after;
  if (!kept.empty()) {
    auto result = EvaluatePolicy(config, kept + "/policy", run_dir);
    if (!result.ok()) return ReportError(Annotate(result.status(), "evaluating the result"));
    after = *result;
    update["eval"]["after"] = EvalSummary(*result, kept);
    std::cout << absl::StrFormat("[eval] after RL: score %.3f (before %.3f), checkpoint %s\n",
                                 result->score, before->score, kept);
  }
  if (absl::Status s = MergeSummary(summary_path, update); !s.ok()) return ReportError(s);
  if (absl::Status s = WriteReport(run_dir, config, *before, after); !s.ok()) {
    return ReportError(s);
  }
  std::cout << "[run] summary: " << summary_path << "\n[run] report:  " << run_dir
            << "/report.html\n";
  return learner_ok ? 0 : 1;
}

}  // namespace

void AddRunCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand(
      "run", "Run the whole pipeline here: SFT if needed, reward service, learner and actors");
  auto config_args = std::make_shared<ConfigArgs>();
  AddConfigArgs(cmd, config_args.get());
  AddRunDirArg(cmd, config_args.get(), "logs, checkpoints, summary.json, report.html");
  cmd->callback([run, config_args] { *run = [config_args] { return RunPipeline(*config_args); }; });
}

}  // namespace pelican::cli
