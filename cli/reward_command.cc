// `pelican reward CONFIG --listen HOST:PORT --metrics_listen HOST:PORT`: one reward-service
// replica, serving RewardService from the run config's reward section until SIGTERM or Ctrl-C,
// then draining: health NOT_SERVING, in-flight calls finish, exit 0.
#include <filesystem>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "cli/app.h"
#include "cli/role_setup.h"
#include "common/config.h"
#include "common/signals.h"
#include "common/status_macros.h"
#include "common/tokenizer/tokenizer.h"
#include "reward_service/reward_model_scorer.h"
#include "reward_service/reward_server.h"
#include "reward_service/scorer_factory.h"

namespace pelican::cli {
namespace {

// Longest time in-flight calls get to finish on shutdown.
constexpr absl::Duration kDrainGrace = absl::Seconds(30);

// The policy's tokenizer: it checks that ids lie in the vocabulary, decodes completions for the
// text scorers and is named in Info. A model.tokenizer that cannot be loaded is an error; without
// one, a missing <policy>/tokenizer.json only means samples must carry their text.
absl::Status LoadTokenizer(const v1::ModelSection& model, reward::RewardServerOptions* options) {
  const std::string path = TokenizerPath(model);
  if (model.tokenizer().empty() && !std::filesystem::exists(path)) {
    PELICAN_LOG(WARNING) << "no tokenizer at " << path
                         << ": ids are not checked against a vocabulary and samples must carry "
                            "their text for text scorers";
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = Tokenizer::FromFile(path);
  if (!loaded.ok()) return Annotate(loaded.status(), "model.tokenizer");
  std::shared_ptr<const Tokenizer> tokenizer = *std::move(loaded);
  options->vocab_size = tokenizer->vocab_size();
  options->tokenizer_fingerprint = tokenizer->fingerprint();
  options->decode = [tokenizer](absl::Span<const int32_t> ids) {
    return tokenizer->Decode(std::vector<int32_t>(ids.begin(), ids.end()), true);
  };
  PELICAN_LOG(INFO) << "tokenizer " << path << ": vocabulary " << tokenizer->vocab_size();
  return absl::OkStatus();
}

int RunReward(const ConfigArgs& config_args, const ServerArgs& server_args) {
  auto role = SetUpRole("reward", config_args, server_args.metrics_listen);
  if (!role.ok()) return ReportError(role.status());
  const v1::RunConfig& config = role->config;
  ConfigureThreads(config.reward().threads());

  // The reward_model kind needs LibTorch, so this binary plugs it in; its models go into Info.
  // A local registry: its builder refers to reward_models, which lives only in this function.
  std::vector<v1::RewardModelInfo> reward_models;
  reward::ScorerRegistry registry;
  reward::RewardModelScorerOptions rm_options;
  rm_options.registry = role->registry.get();
  reward::RegisterRewardModelScorer(
      registry, rm_options, [&reward_models](const reward::RewardModelScorer& scorer) {
        reward_models.insert(reward_models.end(), scorer.models().begin(), scorer.models().end());
      });
  auto scorers = reward::BuildScorerSet(config.reward(), registry);
  if (!scorers.ok()) return ReportError(Annotate(scorers.status(), "reward.scorers"));
  reward::RewardServerOptions options;
  options.listen = server_args.listen;
  options.registry = role->registry;
  options.reward_models = std::move(reward_models);
  if (absl::Status s = LoadTokenizer(config.model(), &options); !s.ok()) return ReportError(s);
  auto server =
      reward::RewardServer::Start(config.reward(), *std::move(scorers), role->rpc, options);
  if (!server.ok()) return ReportError(server.status());
  PELICAN_LOG(INFO) << "reward service serving on " << server_args.listen << " (port "
                    << (*server)->port() << "), metrics on " << server_args.metrics_listen;

  SignalWatcher::Install().WaitForShutdown(absl::InfiniteDuration());
  PELICAN_LOG(INFO) << "draining: finishing in-flight calls";
  (*server)->Drain(kDrainGrace);
  PELICAN_LOG(INFO) << "reward service stopped";
  return 0;
}

}  // namespace

void AddRewardCommand(CLI::App* app, RunFn* run) {
  CLI::App* cmd = app->add_subcommand("reward", "Serve RewardService (one replica)");
  auto config_args = std::make_shared<ConfigArgs>();
  auto server_args = std::make_shared<ServerArgs>();
  AddConfigArgs(cmd, config_args.get());
  AddServerArgs(cmd, server_args.get(), "127.0.0.1:50052", "127.0.0.1:9102");
  cmd->callback([run, config_args, server_args] {
    *run = [config_args, server_args] { return RunReward(*config_args, *server_args); };
  });
}

}  // namespace pelican::cli
