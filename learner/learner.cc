// The learner role (learner.h): Init (model, tokenizer, resume, LearnerService), the step loop of
// rank 0 and of followers, publishing, checkpoints, the guard's probes and actions, and summary.
// Over 500 lines because all of it is Learner::Impl working on one set of members; splitting it
// (checkpoints and guard actions into files of their own) needs Impl in an internal header, and
// belongs with the layout work of the architecture issue, not with a behaviour change.
#include "learner/learner.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/model/hf_model.h"
#include "common/proto_yaml.h"
#include "common/status_macros.h"
#include "common/tokenizer/tokenizer.h"
#include "common/weight_codec.h"
#include "learner/checkpoint.h"
#include "learner/distributed.h"
#include "learner/evaluation.h"
#include "learner/guard.h"
#include "learner/jsonl_prompt_source.h"
#include "learner/learner_metrics.h"
#include "learner/learner_service.h"
#include "learner/prompt_ledger.h"
#include "learner/rl_trainer.h"
#include "learner/rollout_batch.h"
#include "learner/task_data.h"
#include "learner/weight_store.h"
#include "nlohmann/json.hpp"

namespace pelican {
namespace {

namespace fs = std::filesystem;

constexpr char kTrainerStateFile[] = "trainer_state.pb";
constexpr char kLedgerStateFile[] = "ledger_state.pb";
constexpr char kRngFile[] = "rng_state.pt";
constexpr char kGuardStateFile[] = "guard_state.pb";
// Longest wait at the end of a run for connected actors to hear that it is over.
constexpr std::chrono::seconds kDoneGrace(10);

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

torch::ScalarType DtypeOf(v1::DTypeName name) {
  switch (name) {
    case v1::DTYPE_NAME_BFLOAT16:
      return torch::kBFloat16;
    case v1::DTYPE_NAME_FLOAT16:
      return torch::kFloat16;
    default:
      return torch::kFloat32;
  }
}

template <typename Message>
absl::Status WriteProto(const std::string& path, const Message& message) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat("serialising ", path));
  }
  return WriteFileAtomic(path, bytes);
}

template <typename Message>
absl::Status ReadProto(const std::string& path, Message* message) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (!message->ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(path, " does not parse"));
  }
  return absl::OkStatus();
}

// Keeps the lines of metrics.jsonl up to `step`: a resumed run redoes the steps after its
// checkpoint, and their lines would otherwise appear twice.
absl::Status TruncateMetrics(const std::string& path, uint64_t step) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return absl::OkStatus();
  std::string kept;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_object() && j.value("step", uint64_t{0}) <= step) {
      kept.append(line.data(), line.size());
      kept += "\n";
    }
  }
  return WriteFileAtomic(path, kept);
}

// The policy's weights as actors load them: everything but the value head.
TensorMap PolicyTensors(Transformer& policy) {
  TensorMap tensors;
  for (const auto& item : policy->named_parameters()) {
    if (!absl::StartsWith(item.key(), "v_head.")) tensors[item.key()] = item.value().detach();
  }
  return tensors;
}

// What rank 0 tells the other ranks, one BroadcastBytes per message: a kind byte, then for kStep
// the batch's trajectories (in batch order) and the policy version as a PushRolloutsRequest, for
// kSetKlCoef the new coefficient as text, for kRollback the checkpoint directory to load.
enum class Command : char {
  kNoop = 'n',
  kStep = 's',
  kStop = 'x',
  kSetKlCoef = 'k',
  kRollback = 'r'
};

std::string Encode(Command kind, absl::string_view payload = "") {
  return absl::StrCat(std::string(1, static_cast<char>(kind)), payload);
}

// Copies the weights of the model in `dir` into `model` (same architecture), in place, so that
// the optimizer's references to the parameters stay valid.
absl::Status LoadWeightsInto(const std::string& dir, const LoadOptions& options,
                             Transformer& model) {
  ASSIGN_OR_RETURN(LoadedModel loaded, LoadModel(dir, options));
  torch::NoGradGuard no_grad;
  auto source = loaded.model->named_parameters();
  for (auto& item : model->named_parameters()) {
    const torch::Tensor* from = source.find(item.key());
    if (from == nullptr) {
      return absl::DataLossError(absl::StrCat(dir, " has no parameter ", item.key()));
    }
    item.value().copy_(*from);
  }
  return absl::OkStatus();
}

// The step's completions and their mean reward uncertainty, for the guard.
GuardStepInput GuardInput(const RlStepStats& stats, const std::vector<PromptGroup>& groups) {
  GuardStepInput in;
  in.step = stats.step;
  in.reward_mean = stats.reward_mean;
  in.kl = stats.kl;
  in.entropy = stats.entropy;
  double uncertainty = 0.0;
  for (const PromptGroup& g : groups) {
    for (const v1::Trajectory& t : g.samples) {
      in.completions.emplace_back(t.completion_ids().begin(), t.completion_ids().end());
      uncertainty += t.reward_uncertainty();
    }
  }
  if (!in.completions.empty()) {
    in.reward_uncertainty = uncertainty / static_cast<double>(in.completions.size());
  }
  return in;
}

std::string EncodeStep(const std::vector<PromptGroup>& groups, uint64_t version) {
  v1::PushRolloutsRequest request;
  request.set_batch_seq(version);
  for (const PromptGroup& g : groups) {
    for (const v1::Trajectory& t : g.samples) *request.add_trajectories() = t;
  }
  return Encode(Command::kStep, request.SerializeAsString());
}

absl::StatusOr<std::vector<PromptGroup>> DecodeStep(absl::string_view bytes, uint64_t* version) {
  v1::PushRolloutsRequest request;
  if (!request.ParseFromArray(bytes.data() + 1, static_cast<int>(bytes.size() - 1))) {
    return absl::DataLossError("rank 0 sent a step that does not parse");
  }
  *version = request.batch_seq();
  std::vector<PromptGroup> groups;
  for (v1::Trajectory& t : *request.mutable_trajectories()) {
    if (groups.empty() || groups.back().lease_id != t.lease_id()) {
      PromptGroup& g = groups.emplace_back();
      g.lease_id = t.lease_id();
      g.prompt.token_ids.assign(t.prompt_ids().begin(), t.prompt_ids().end());
    }
    groups.back().samples.push_back(std::move(t));
  }
  return groups;
}

v1::DistBackend BackendOrAuto(v1::DistBackend backend) {
  return backend == v1::DIST_BACKEND_UNSPECIFIED ? v1::DIST_BACKEND_AUTO : backend;
}

}  // namespace

class Learner::Impl {
 public:
  absl::Status Init(const v1::RunConfig& config, const RpcSettings& rpc,
                    const LearnerOptions& options);
  absl::Status Run(SignalWatcher& signals);
  int port() const { return port_; }

 private:
  // Ranks other than 0: take the steps rank 0 broadcasts until it says stop.
  absl::Status RunFollower();
  absl::Status Broadcast(std::string bytes);
  bool leader() const { return rank_.rank == 0; }

  absl::Status Publish();
  absl::Status Checkpoint();
  absl::Status WriteSummary(bool finished);
  // Published versions: one per step, plus one per guard rollback.
  uint64_t version() const {
    return trainer_->steps() + 1 + (guard_ ? guard_->state().rollbacks() : 0);
  }
  // The gold probe at the current step: records it, keeps the best checkpoint, and returns a
  // trip of the guard, if any. Adds the probe's fields to `line` (the step's metrics line).
  absl::StatusOr<std::optional<GuardTrip>> Probe(nlohmann::json* line);
  // With gold scorers: appends to the harvest file the probe samples whose training reward is
  // above the best probe's mean while their gold score is guard.gold_drop below the best gold
  // score (HighRewardLowGold): what the policy games, ready for labelling. Adds "harvested" to
  // `line`.
  absl::Status Harvest(const EvalResult& result, uint64_t step, bool best, nlohmann::json* line);
  // Acts on a trip as guard.action says; sets *stop for the stop action.
  absl::Status ActOnTrip(const GuardTrip& trip, bool* stop);
  // Loads the weights and optimizer moments of the checkpoint in `dir` (every rank).
  absl::Status RollbackTo(const std::string& dir);
  std::string CheckpointDir(uint64_t step) const {
    return CheckpointStepDir(checkpoint_root_, step);
  }

  v1::RunConfig config_;
  LearnerOptions options_;
  RankInfo rank_;
  std::unique_ptr<ProcessGroup> group_;  // null for one rank
  std::chrono::steady_clock::time_point last_broadcast_;
  std::string fingerprint_;
  std::string checkpoint_root_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string tokenizer_path_;
  GenerationConfig generation_;
  int64_t pad_id_ = 0;
  Clock* const clock_ = Clock::Real();
  std::unique_ptr<PromptLedger> ledger_;
  WeightStore weights_;
  std::unique_ptr<LearnerService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<RlTrainer> trainer_;
  LoadOptions load_;
  // Rank 0 with guard.enabled: the gold probe (the task's held-out set) and the guard.
  std::unique_ptr<HeldOutEvaluator> probe_;
  std::unique_ptr<RewardGuard> guard_;
  // The best probe's mean training reward, when the probe has gold scorers (for the harvest).
  std::optional<double> best_probe_reward_;
  std::optional<uint64_t> last_checkpoint_step_;
  std::unique_ptr<LearnerMetrics> metrics_;
  std::ofstream metrics_jsonl_;
  std::chrono::steady_clock::time_point started_;
};

absl::Status Learner::Impl::Init(const v1::RunConfig& config, const RpcSettings& rpc,
                                 const LearnerOptions& options) {
  config_ = config;
  options_ = options;
  fingerprint_ = ConfigFingerprint(config);
  ASSIGN_OR_RETURN(rank_, RankInfoFromEnv());
  if (rank_.world_size > 1) {
    ProcessGroupOptions group_options;
    group_options.timeout = absl::Seconds(config.learner().collective_timeout_s());
    std::string backend = v1::DistBackend_Name(BackendOrAuto(config.learner().backend()));
    backend = backend.substr(backend.rfind('_') + 1);
    std::transform(backend.begin(), backend.end(), backend.begin(), ::tolower);
    group_options.backend = backend;
    PELICAN_LOG(INFO) << "rank " << rank_.rank << " of " << rank_.world_size << ", rendezvous at "
                      << rank_.master_addr << ":" << rank_.master_port << " (" << backend << ")";
    ASSIGN_OR_RETURN(group_, CreateProcessGroup(rank_, group_options));
  }
  const std::string& run_dir = options.run_dir;
  checkpoint_root_ = run_dir + "/checkpoints";
  RETURN_IF_ERROR(MakeDirs(checkpoint_root_));
  const v1::ModelSection& model = config.model();
  if (model.policy().empty()) {
    return absl::InvalidArgumentError("model.policy is not set: the learner needs a model dir");
  }

  // Resume point.
  std::optional<CheckpointInfo> resume;
  if (absl::StatusOr<CheckpointInfo> latest = FindLatestCheckpoint(checkpoint_root_); latest.ok()) {
    ASSIGN_OR_RETURN(std::string saved_fingerprint, CheckpointFingerprint(latest->dir));
    if (saved_fingerprint != fingerprint_) {
      return absl::FailedPreconditionError(
          absl::StrCat(latest->dir, " was written with config fingerprint ", saved_fingerprint,
                       "; this config's is ", fingerprint_,
                       ". Resume with the same config, or start a new run directory"));
    }
    resume = *latest;
    PELICAN_LOG(INFO) << "resuming from " << latest->dir;
  }

  if (config.guard().enabled() && config.guard().action() == v1::GUARD_ACTION_RAISE_KL &&
      config.learner().kl().coef() <= 0) {
    return absl::InvalidArgumentError(
        "guard.action is raise_kl but learner.kl.coef is 0: there is no KL term to raise");
  }
  tokenizer_path_ = TokenizerPath(model);
  ASSIGN_OR_RETURN(tokenizer_, Tokenizer::FromFile(tokenizer_path_));

  const bool ppo = config.learner().algorithm() == v1::ALGORITHM_PPO;
  const bool value_head = ppo && config.learner().value_model() == v1::VALUE_MODEL_HEAD;
  LoadOptions load;
  load.dtype = DtypeOf(model.dtype());
  ASSIGN_OR_RETURN(load.device, RankDevice(config.run().device(), rank_));
  load.value_head = value_head;
  load_ = load;
  const std::string policy_dir = resume ? resume->dir + "/policy" : model.policy();
  ASSIGN_OR_RETURN(LoadedModel policy, LoadModel(policy_dir, load));
  generation_ = policy.generation;
  pad_id_ = generation_.pad_token_id.value_or(
      generation_.eos_token_ids.empty() ? 0 : generation_.eos_token_ids.front());
  RlModels models;
  models.policy = policy.model;
  if (config.learner().kl().coef() > 0) {
    LoadOptions ref_load = load;
    ref_load.value_head = false;
    ASSIGN_OR_RETURN(
        LoadedModel reference,
        LoadModel(model.reference().empty() ? model.policy() : model.reference(), ref_load));
    models.reference = reference.model;
  }
  if (ppo && !value_head) {
    LoadOptions critic_load = load;
    critic_load.value_head = true;
    const std::string critic_dir = resume ? resume->dir + "/critic" : model.policy();
    ASSIGN_OR_RETURN(LoadedModel critic, LoadModel(critic_dir, critic_load));
    models.critic = critic.model;
  }
  GradientAverager averager;
  if (group_) {
    ProcessGroup* group = group_.get();
    averager = [group](std::vector<torch::Tensor>& t) { return group->AllReduceMean(t); };
    // Every rank loaded the same files; rank 0's weights are made everyone's all the same.
    std::vector<torch::Tensor> params = models.policy->parameters();
    if (models.critic) {
      for (const torch::Tensor& p : models.critic->parameters()) params.push_back(p);
    }
    RETURN_IF_ERROR(group_->Broadcast(params, 0));
  }
  ASSIGN_OR_RETURN(trainer_, RlTrainer::Create(config, models, rank_.rank, rank_.world_size,
                                               std::move(averager)));
  if (resume) {
    v1::TrainerState trainer_state;
    RETURN_IF_ERROR(ReadProto(resume->dir + "/" + kTrainerStateFile, &trainer_state));
    RETURN_IF_ERROR(trainer_->Restore(trainer_state, resume->dir));
  }
  // Rank 0 alone serves, leases, publishes and checkpoints.
  if (!leader()) return absl::OkStatus();

  // Prompts.
  ASSIGN_OR_RETURN(TaskFiles files,
                   PrepareTaskData(config.task(), config.run().seed(), run_dir + "/data"));
  JsonlPromptSourceOptions source_options;
  source_options.prompt_key = config.task().prompt_key();
  source_options.reference_key = config.task().reference_key();
  source_options.require_reference = config.task().kind() == v1::TASK_KIND_ARITHMETIC;
  source_options.seed = config.run().seed();
  const Tokenizer* tokenizer = tokenizer_.get();
  ASSIGN_OR_RETURN(
      std::unique_ptr<JsonlPromptSource> source,
      JsonlPromptSource::Open(files.train, source_options, [tokenizer](const std::string& text) {
        return tokenizer->EncodeWithSpecial(text);
      }));
  ledger_ = std::make_unique<PromptLedger>(PromptLedgerOptions::FromConfig(config),
                                           std::move(source), clock_);

  if (resume) {
    v1::LedgerState ledger_state;
    RETURN_IF_ERROR(ReadProto(resume->dir + "/" + kLedgerStateFile, &ledger_state));
    RETURN_IF_ERROR(ledger_->Restore(ledger_state));
    torch::Tensor rng;
    torch::load(rng, resume->dir + "/" + kRngFile);
    at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();
    cpu_generator.set_state(rng);
    RETURN_IF_ERROR(TruncateMetrics(run_dir + "/metrics.jsonl", trainer_->steps()));
  }
  if (config.guard().enabled()) {
    guard_ = std::make_unique<RewardGuard>(config.guard());
    if (files.probe.empty()) {
      PELICAN_LOG(WARNING) << "the task has no held-out set (task.probe_file, task.eval_file): "
                              "the guard watches its per-step signals only, without a gold probe";
    } else {
      ASSIGN_OR_RETURN(probe_, HeldOutEvaluator::Create(config, tokenizer_path_, run_dir,
                                                        HeldOutEvaluator::Set::kProbe));
      PELICAN_LOG(INFO) << "guard: gold probe of " << probe_->size() << " held-out prompts every "
                        << config.guard().eval_every_steps() << " steps";
    }
    if (resume && fs::exists(resume->dir + "/" + kGuardStateFile)) {
      v1::GuardState guard_state;
      RETURN_IF_ERROR(ReadProto(resume->dir + "/" + kGuardStateFile, &guard_state));
      guard_->Restore(guard_state);
    }
  }
  ledger_->SetPolicyVersion(version());

  // Serving.
  LearnerServiceOptions service_options;
  service_options.run_id = config.run().name();
  service_options.config_fingerprint = fingerprint_;
  service_options.tokenizer_fingerprint = tokenizer_->fingerprint();
  service_options.vocab_size = trainer_->policy()->config().vocab_size;
  service_ =
      std::make_unique<LearnerService>(service_options, ledger_.get(), &weights_, rpc, clock_);
  service_->SetStep(trainer_->steps());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  rpc.ConfigureServer(options.listen, &builder, &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve LearnerService on ", options.listen));
  }
  if (options.registry) {
    metrics_ = std::make_unique<LearnerMetrics>(*options.registry);
    if (guard_) metrics_->RecordGuard(*guard_);
  }
  metrics_jsonl_.open(run_dir + "/metrics.jsonl", std::ios::app);
  if (!metrics_jsonl_) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", run_dir, "/metrics.jsonl"));
  }
  RETURN_IF_ERROR(Publish());
  server_->GetHealthCheckService()->SetServingStatus(true);
  return absl::OkStatus();
}

absl::Status Learner::Impl::Publish() {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(EncodedWeights encoded,
                   EncodeWeights(version(), PolicyTensors(trainer_->policy()),
                                 config_.learner().weight_bucket_bytes()));
  const size_t bytes = encoded.total_bytes;
  weights_.Publish(std::make_shared<const EncodedWeights>(std::move(encoded)));
  if (metrics_) metrics_->RecordPublish(Since(start), bytes);
  return absl::OkStatus();
}

absl::Status Learner::Impl::Checkpoint() {
  const auto start = std::chrono::steady_clock::now();
  CheckpointWriteOptions options;
  options.config_fingerprint = fingerprint_;
  options.keep_last = config_.learner().checkpoint().keep_last();
  if (guard_ && guard_->state().has_best()) options.keep_steps.insert(guard_->state().best_step());
  const v1::LedgerState ledger_state = ledger_->Save();
  const v1::TrainerState trainer_state = trainer_->State();
  ASSIGN_OR_RETURN(
      std::string dir,
      WriteCheckpoint(
          checkpoint_root_, trainer_->steps(), options, [&](const std::string& d) -> absl::Status {
            RETURN_IF_ERROR(SaveModel(d + "/policy", trainer_->policy(), generation_));
            ASSIGN_OR_RETURN(std::string tokenizer_json, ReadFile(tokenizer_path_));
            RETURN_IF_ERROR(WriteFileAtomic(d + "/policy/tokenizer.json", tokenizer_json));
            if (trainer_->critic()) {
              RETURN_IF_ERROR(SaveModel(d + "/critic", trainer_->critic(), generation_));
            }
            RETURN_IF_ERROR(trainer_->SaveOptimizers(d));
            RETURN_IF_ERROR(WriteProto(d + "/" + kTrainerStateFile, trainer_state));
            RETURN_IF_ERROR(WriteProto(d + "/" + kLedgerStateFile, ledger_state));
            torch::save(at::detail::getDefaultCPUGenerator().get_state(), d + "/" + kRngFile);
            if (guard_) RETURN_IF_ERROR(WriteProto(d + "/" + kGuardStateFile, guard_->state()));
            return WriteFileAtomic(d + "/config.yaml", ResolvedConfigYaml(config_));
          }));
  last_checkpoint_step_ = trainer_->steps();
  if (metrics_) metrics_->RecordCheckpoint(Since(start));
  PELICAN_LOG(INFO) << "checkpoint " << dir << " (" << Since(start) << " s)";
  return absl::OkStatus();
}

absl::Status Learner::Impl::WriteSummary(bool finished) {
  nlohmann::json summary = {
      {"run", config_.run().name()},
      {"config_fingerprint", fingerprint_},
      {"finished", finished},
      {"steps", trainer_->steps()},
      {"policy_version", version()},
      {"ledger", nlohmann::json::parse(LedgerJson(ledger_->Stats()))},
  };
  // The checkpoint a user should take: the best by the gold probe when there is one, else the
  // last one written.
  std::string kept;
  if (guard_ && guard_->state().has_best() &&
      fs::exists(CheckpointDir(guard_->state().best_step()))) {
    kept = CheckpointDir(guard_->state().best_step());
  } else if (absl::StatusOr<CheckpointInfo> latest = FindLatestCheckpoint(checkpoint_root_);
             latest.ok()) {
    kept = latest->dir;
  }
  nlohmann::json guard = {{"enabled", guard_ != nullptr},
                          {"tripped", guard_ && guard_->state().trips() > 0},
                          {"kept_checkpoint", kept}};
  if (guard_) {
    const v1::GuardState& g = guard_->state();
    guard["step"] = g.trip_step();
    guard["reason"] = g.reason();
    guard["trips"] = g.trips();
    guard["rollbacks"] = g.rollbacks();
    guard["action"] =
        EnumYamlName(v1::GuardAction_descriptor()->FindValueByNumber(config_.guard().action()));
    if (g.has_best()) {
      guard["best_score"] = g.best_score();
      guard["best_step"] = g.best_step();
    }
    if (g.has_gold()) guard["last_score"] = g.gold_score();
  }
  summary["guard"] = guard;
  // Keys written by other stages (eval, guard) survive.
  const std::string path = options_.run_dir + "/summary.json";
  if (absl::StatusOr<std::string> old = ReadFile(path); old.ok()) {
    nlohmann::json previous = nlohmann::json::parse(*old, nullptr, false);
    if (previous.is_object()) {
      previous.update(summary);
      summary = previous;
    }
  }
  return WriteFileAtomic(path, summary.dump(2) + "\n");
}

absl::StatusOr<std::optional<GuardTrip>> Learner::Impl::Probe(nlohmann::json* line) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(EvalResult result, probe_->Evaluate(trainer_->policy(), generation_));
  const uint64_t step = trainer_->steps();
  const GoldObservation seen = guard_->ObserveGold(step, result.score);
  PELICAN_LOG(INFO) << "gold probe at step " << step << ": " << result.score
                    << (seen.best ? " (best so far)" : "") << ", best "
                    << guard_->state().best_score() << " at step " << guard_->state().best_step()
                    << " (" << Since(start) << " s)";
  // The probe's completions, for the report's samples from the start, middle and end.
  std::string samples;
  for (const EvalSample& s : result.samples) {
    nlohmann::json j{{"prompt", s.prompt},
                     {"completion", s.completion},
                     {"reference", s.reference},
                     {"score", s.score}};
    if (result.has_gold) j["reward"] = s.reward;
    samples += j.dump() + "\n";
  }
  if (result.has_gold) {
    (*line)["probe_reward"] = result.reward;
    RETURN_IF_ERROR(Harvest(result, step, seen.best, line));
  }
  RETURN_IF_ERROR(MakeDirs(options_.run_dir + "/probes"));
  RETURN_IF_ERROR(WriteFileAtomic(
      absl::StrFormat("%s/probes/step-%08d.jsonl", options_.run_dir, step), samples));
  (*line)["gold_score"] = result.score;
  (*line)["gold_distinct_2"] = result.distinct_2;
  (*line)["gold_mean_length"] = result.mean_length;
  if (metrics_) metrics_->RecordGold(result.score);
  // The best policy is kept as a checkpoint of its own (pruning spares it).
  if (seen.best && last_checkpoint_step_ != step) RETURN_IF_ERROR(Checkpoint());
  return seen.trip;
}

absl::Status Learner::Impl::Harvest(const EvalResult& result, uint64_t step, bool best,
                                    nlohmann::json* line) {
  if (best || !best_probe_reward_) {
    if (best) best_probe_reward_ = result.reward;
    return absl::OkStatus();
  }
  // As the guard's gold_drop signal measures a fall: relative to |best|, at least 1e-3.
  const double best_gold = guard_->state().best_score();
  const double gold_limit =
      best_gold - config_.guard().gold_drop() * std::max(std::abs(best_gold), 1e-3);
  std::string rows;
  const std::vector<EvalSample> gamed = HighRewardLowGold(result, *best_probe_reward_, gold_limit);
  for (const EvalSample& s : gamed) {
    rows += nlohmann::json{{"step", step},
                           {"prompt", s.prompt},
                           {"completion", s.completion},
                           {"reward", s.reward},
                           {"gold", s.score}}
                .dump() +
            "\n";
  }
  const int64_t n = static_cast<int64_t>(gamed.size());
  (*line)["harvested"] = n;
  if (n == 0) return absl::OkStatus();
  const std::string path = config_.guard().harvest_file().empty()
                               ? options_.run_dir + "/harvest.jsonl"
                               : config_.guard().harvest_file();
  absl::StatusOr<std::string> old = ReadFile(path);
  PELICAN_LOG(WARNING) << "guard: harvested " << n << " probe samples with training reward above "
                       << *best_probe_reward_ << " and gold below " << gold_limit << " to " << path;
  return WriteFileAtomic(path, (old.ok() ? *old : std::string()) + rows);
}

absl::Status Learner::Impl::RollbackTo(const std::string& dir) {
  RETURN_IF_ERROR(VerifyCheckpoint(dir));
  RETURN_IF_ERROR(LoadWeightsInto(dir + "/policy", load_, trainer_->policy()));
  if (trainer_->critic()) {
    LoadOptions critic_load = load_;
    critic_load.value_head = true;
    RETURN_IF_ERROR(LoadWeightsInto(dir + "/critic", critic_load, trainer_->critic()));
  }
  return trainer_->RestoreOptimizers(dir);
}

absl::Status Learner::Impl::ActOnTrip(const GuardTrip& trip, bool* stop) {
  const v1::GuardAction action = config_.guard().action();
  PELICAN_LOG(WARNING) << "reward-hacking guard tripped at step " << trainer_->steps() << ": "
                       << GuardSignalName(trip.signal) << " = " << trip.value << " (limit "
                       << trip.threshold << "); action "
                       << EnumYamlName(v1::GuardAction_descriptor()->FindValueByNumber(action));
  switch (action) {
    case v1::GUARD_ACTION_STOP:
      *stop = true;
      return absl::OkStatus();
    case v1::GUARD_ACTION_RAISE_KL: {
      const double coef = trainer_->kl_coef() * config_.guard().kl_raise_factor();
      if (group_) {
        RETURN_IF_ERROR(Broadcast(Encode(Command::kSetKlCoef, absl::StrFormat("%.17g", coef))));
      }
      trainer_->set_kl_coef(coef);
      guard_->Rearm();
      PELICAN_LOG(WARNING) << "guard: KL coefficient raised to " << coef;
      return absl::OkStatus();
    }
    case v1::GUARD_ACTION_ROLLBACK: {
      if (!guard_->state().has_best()) {
        PELICAN_LOG(WARNING) << "guard: no best checkpoint to roll back to yet";
        return absl::OkStatus();
      }
      const std::string dir = CheckpointDir(guard_->state().best_step());
      if (group_) RETURN_IF_ERROR(Broadcast(Encode(Command::kRollback, dir)));
      RETURN_IF_ERROR(RollbackTo(dir));
      guard_->RolledBack();
      // The restored weights go out as a new version, so actors and the ledger's staleness see
      // the change.
      ledger_->SetPolicyVersion(version());
      RETURN_IF_ERROR(Publish());
      PELICAN_LOG(WARNING) << "guard: rolled back to " << dir << ", published as version "
                           << version();
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status Learner::Impl::Broadcast(std::string bytes) {
  last_broadcast_ = std::chrono::steady_clock::now();
  if (!group_) return absl::OkStatus();
  return group_->BroadcastBytes(&bytes, 0);
}

absl::Status Learner::Impl::RunFollower() {
  PELICAN_LOG(INFO) << "rank " << rank_.rank << " following rank 0 from step " << trainer_->steps();
  while (true) {
    std::string bytes;
    RETURN_IF_ERROR(group_->BroadcastBytes(&bytes, 0));
    if (bytes.empty()) return absl::DataLossError("rank 0 sent an empty command");
    const Command kind = static_cast<Command>(bytes[0]);
    if (kind == Command::kStop) break;
    const absl::string_view payload = absl::string_view(bytes).substr(1);
    if (kind == Command::kSetKlCoef) {
      double coef = 0;
      if (!absl::SimpleAtod(payload, &coef)) {
        return absl::DataLossError(absl::StrCat("rank 0 sent a KL coefficient \"", payload, "\""));
      }
      trainer_->set_kl_coef(coef);
      continue;
    }
    if (kind == Command::kRollback) {
      RETURN_IF_ERROR(RollbackTo(std::string(payload)));
      continue;
    }
    if (kind != Command::kStep) continue;
    uint64_t version = 0;
    ASSIGN_OR_RETURN(std::vector<PromptGroup> groups, DecodeStep(bytes, &version));
    ASSIGN_OR_RETURN(RolloutBatch batch, MakeRolloutBatch(groups, pad_id_, version));
    RETURN_IF_ERROR(trainer_->Step(batch).status());
  }
  PELICAN_LOG(INFO) << "rank " << rank_.rank << " stopped at step " << trainer_->steps();
  return absl::OkStatus();
}

absl::Status Learner::Impl::Run(SignalWatcher& signals) {
  // Other ranks leave stopping to rank 0, which checkpoints first and then tells them.
  if (!leader()) return RunFollower();
  started_ = std::chrono::steady_clock::now();
  last_broadcast_ = started_;
  // Followers wait in BroadcastBytes under the collective timeout: keep them company while
  // actors are slow.
  const auto heartbeat =
      std::chrono::duration<double>(std::min(10.0, config_.learner().collective_timeout_s() / 3));
  const uint64_t total = config_.learner().total_steps();
  const uint32_t every = config_.learner().checkpoint().every_steps();
  auto wait_start = std::chrono::steady_clock::now();
  auto last_idle_update = wait_start;
  absl::Status status;
  PELICAN_LOG(INFO) << "learner serving on port " << port_ << "; step " << trainer_->steps()
                    << " of " << total;
  // The gold probe of the starting policy: the first best, and a checkpoint to roll back to.
  // (metrics.jsonl has one line per step, so this probe is in the log and the guard state only.)
  if (probe_ && !guard_->state().has_gold()) {
    nlohmann::json ignored;
    absl::StatusOr<std::optional<GuardTrip>> probed = Probe(&ignored);
    if (!probed.ok()) status = Annotate(probed.status(), "gold probe");
  }
  bool guard_stop = false;
  while (status.ok() && !guard_stop && trainer_->steps() < total && !signals.shutdown_requested()) {
    if (signals.TakeCheckpointRequest()) {
      status = Checkpoint();
      if (!status.ok()) break;
    }
    std::vector<PromptGroup> groups = ledger_->TryTakeBatch();
    if (groups.empty()) {
      if (group_ && std::chrono::steady_clock::now() - last_broadcast_ > heartbeat) {
        status = Broadcast(Encode(Command::kNoop));
        if (!status.ok()) break;
      }
      // Lease expiry and the ledger gauges while waiting, at most every 100 ms: Stats() copies
      // the ledger's maps under the lock the gRPC handlers need.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_idle_update >= std::chrono::milliseconds(100)) {
        last_idle_update = now;
        ledger_->ExpireLeases();
        if (metrics_) {
          metrics_->RecordLedger(ledger_->Stats());
          metrics_->RecordActors(service_->actors_connected());
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    StepTimes times;
    times.wait_data = Since(wait_start);
    const auto step_start = std::chrono::steady_clock::now();
    absl::StatusOr<RolloutBatch> batch = MakeRolloutBatch(groups, pad_id_, version());
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    if (group_) {
      status = Broadcast(EncodeStep(groups, version()));
      if (!status.ok()) break;
    }
    absl::StatusOr<RlStepStats> stats = trainer_->Step(*batch);
    if (!stats.ok()) {
      status = Annotate(stats.status(), absl::StrCat("step ", trainer_->steps() + 1));
      break;
    }
    times.forward_backward = stats->forward_backward_s;
    times.allreduce = stats->optimizer_s;
    ledger_->SetPolicyVersion(version());
    const auto publish_start = std::chrono::steady_clock::now();
    status = Publish();
    if (!status.ok()) break;
    times.publish = Since(publish_start);
    nlohmann::json guard_fields = nlohmann::json::object();
    if (guard_) {
      std::optional<GuardTrip> trip = guard_->ObserveStep(GuardInput(*stats, groups));
      if (probe_ && trainer_->steps() % config_.guard().eval_every_steps() == 0) {
        absl::StatusOr<std::optional<GuardTrip>> probed = Probe(&guard_fields);
        if (!probed.ok()) {
          status = Annotate(probed.status(), "gold probe");
          break;
        }
        if (!trip) trip = *probed;
      }
      if (trip) {
        status = ActOnTrip(*trip, &guard_stop);
        if (!status.ok()) break;
      }
      for (GuardSignal signal : kAllGuardSignals) {
        if (std::optional<double> v = guard_->value(signal)) {
          guard_fields["guard"][GuardSignalName(signal)] = *v;
        }
      }
      guard_fields["guard_tripped"] = guard_->tripped();
      if (metrics_) metrics_->RecordGuard(*guard_);
    }
    if (every > 0 && trainer_->steps() % every == 0 && trainer_->steps() < total &&
        last_checkpoint_step_ != trainer_->steps()) {
      const auto ckpt_start = std::chrono::steady_clock::now();
      status = Checkpoint();
      if (!status.ok()) break;
      times.checkpoint = Since(ckpt_start);
    }
    // Announced after the checkpoint, so a client that waits for the step (GetStatus) never
    // finds its next leases in the checkpoint of the step it waited for.
    service_->SetStep(trainer_->steps());
    times.total = times.wait_data + Since(step_start);
    const LedgerStats ledger = ledger_->Stats();
    if (metrics_) {
      metrics_->RecordStep(*stats, times, version());
      metrics_->RecordLedger(ledger);
      metrics_->RecordActors(service_->actors_connected());
    }
    nlohmann::json line =
        nlohmann::json::parse(StepJsonLine(*stats, times, version(), ledger, Since(started_)));
    line.update(guard_fields);
    metrics_jsonl_ << line.dump() << "\n";
    metrics_jsonl_.flush();
    PELICAN_LOG(INFO) << "step " << stats->step << "/" << total << " reward " << stats->reward_mean
                      << " kl " << stats->kl << " entropy " << stats->entropy << " loss "
                      << stats->policy_loss << " (" << times.total << " s)";
    wait_start = std::chrono::steady_clock::now();
  }
  // Final checkpoint (also after an error: it loses nothing that a resume could not redo).
  const bool finished = status.ok() && trainer_->steps() >= total;
  if (guard_stop) {
    PELICAN_LOG(WARNING) << "stopped by the reward-hacking guard at step " << trainer_->steps()
                         << "; best gold score " << guard_->state().best_score() << " at step "
                         << guard_->state().best_step();
  }
  if (absl::Status ckpt =
          last_checkpoint_step_ == trainer_->steps() ? absl::OkStatus() : Checkpoint();
      !ckpt.ok()) {
    PELICAN_LOG(ERROR) << "final checkpoint failed: " << ckpt;
    if (status.ok()) status = ckpt;
  }
  if (group_) {
    if (absl::Status s = Broadcast(Encode(Command::kStop)); !s.ok()) {
      PELICAN_LOG(ERROR) << "telling the other ranks to stop: " << s;
    }
  }
  // Actors hear "done" only when the run is over; a learner stopped to be restarted (SIGTERM, a
  // Slurm requeue) leaves them retrying until it is back.
  if (finished || guard_stop) service_->SetDone();
  ledger_->Shutdown();
  weights_.Close();
  if (metrics_) metrics_->RecordLedger(ledger_->Stats());
  if (absl::Status s = WriteSummary(finished); !s.ok() && status.ok()) status = s;
  // Every connected actor hears "done" from LeasePrompts before the server goes away (at most
  // kDoneGrace: an actor killed a moment ago still counts as connected until it times out).
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (finished || guard_stop) {
    const auto deadline = std::chrono::steady_clock::now() + kDoneGrace;
    while (service_->actors_not_told_done() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  PELICAN_LOG(INFO) << "learner stopped at step " << trainer_->steps()
                    << (finished ? " (done)" : "");
  return status;
}

Learner::Learner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Learner::~Learner() = default;

absl::StatusOr<std::unique_ptr<Learner>> Learner::Create(const v1::RunConfig& config,
                                                         const RpcSettings& rpc,
                                                         const LearnerOptions& options) {
  auto impl = std::make_unique<Impl>();
  RETURN_IF_ERROR(impl->Init(config, rpc, options));
  return std::unique_ptr<Learner>(new Learner(std::move(impl)));
}

int Learner::port() const { return impl_->port(); }
absl::Status Learner::Run(SignalWatcher& signals) { return impl_->Run(signals); }

}  // namespace pelican
