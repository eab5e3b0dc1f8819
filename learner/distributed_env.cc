// RankInfoFromEnv (declared in distributed.h): the rank layout from torchrun-style or Slurm
// variables, with an error naming the variable for anything malformed.
#include <cctype>
#include <cstdlib>
#include <initializer_list>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "learner/distributed.h"

namespace pelican {
namespace {

// A variable that is set, for messages.
struct Var {
  std::string name;
  std::string value;
};

// The first of `names` that is set.
std::optional<Var> FirstSet(const EnvLookup& getenv, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (std::optional<std::string> value = getenv(name)) return Var{name, *value};
  }
  return std::nullopt;
}

absl::Status Malformed(const Var& var, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("environment variable ", var.name, "='", var.value, "' is not ", expected));
}

// The integer in `var`, or `fallback` when unset; INVALID_ARGUMENT unless min <= value <= max.
absl::StatusOr<int> IntFrom(const std::optional<Var>& var, int fallback, int min, int max,
                            absl::string_view expected) {
  if (!var) return fallback;
  int value = 0;
  if (!absl::SimpleAtoi(var->value, &value) || value < min || value > max) {
    return Malformed(*var, expected);
  }
  return value;
}

// The first host of a Slurm host list: "gpu[03-05,9],login1" → "gpu03",
// "rack[1-2]-n[001-004]" → "rack1-n001". Bracketed ranges keep their zero padding.
absl::StatusOr<std::string> FirstSlurmHost(const Var& var) {
  const std::string& list = var.value;
  std::string host;
  for (size_t i = 0; i < list.size() && list[i] != ','; ++i) {
    if (list[i] == ']') return Malformed(var, "a Slurm host list (unbalanced ']')");
    if (list[i] != '[') {
      host.push_back(list[i]);
      continue;
    }
    const size_t close = list.find(']', i);
    if (close == std::string::npos) return Malformed(var, "a Slurm host list (unbalanced '[')");
    const std::string inner = list.substr(i + 1, close - i - 1);
    const std::string first = inner.substr(0, inner.find_first_of(",-"));
    if (first.empty() || first.find_first_not_of("0123456789") != std::string::npos) {
      return Malformed(var, "a Slurm host list (a bracket must hold numbers like [1-4,7])");
    }
    host += first;
    i = close;
  }
  if (host.empty()) return Malformed(var, "a Slurm host list (no first host)");
  return host;
}

bool IsHostOrAddress(const std::string& s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '[' || c == ']') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<RankInfo> RankInfoFromEnv(const EnvLookup& getenv) {
  constexpr int kMaxInt = std::numeric_limits<int>::max();
  RankInfo info;
  const std::optional<Var> rank_var = FirstSet(getenv, {"RANK", "SLURM_PROCID"});
  const std::optional<Var> world_var = FirstSet(getenv, {"WORLD_SIZE", "SLURM_NTASKS"});
  const std::optional<Var> local_var = FirstSet(getenv, {"LOCAL_RANK", "SLURM_LOCALID"});
  ASSIGN_OR_RETURN(info.rank, IntFrom(rank_var, 0, 0, kMaxInt, "a rank (an integer >= 0)"));
  ASSIGN_OR_RETURN(info.world_size,
                   IntFrom(world_var, 1, 1, kMaxInt, "a world size (an integer >= 1)"));
  ASSIGN_OR_RETURN(info.local_rank,
                   IntFrom(local_var, 0, 0, kMaxInt, "a local rank (an integer >= 0)"));
  const std::string world_name = world_var ? world_var->name : "WORLD_SIZE (unset, so 1)";
  if (info.rank >= info.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", rank_var->name, "=",
                                                   info.rank, " is not below ", world_name, "=",
                                                   info.world_size));
  }
  if (info.local_rank >= info.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", local_var->name, "=",
                                                   info.local_rank, " is not below ", world_name,
                                                   "=", info.world_size));
  }

  if (std::optional<Var> port = FirstSet(getenv, {"MASTER_PORT"})) {
    ASSIGN_OR_RETURN(info.master_port, IntFrom(port, 0, 1, 65535, "a TCP port (1..65535)"));
  }

  // MASTER_ADDR, else Slurm: rank 0 runs on the first node of the allocation; the launch node
  // (where srun ran) is only a guess, since that may be a login node.
  if (std::optional<Var> addr = FirstSet(getenv, {"MASTER_ADDR"})) {
    if (!IsHostOrAddress(addr->value)) return Malformed(*addr, "a host name or IP address");
    info.master_addr = addr->value;
  } else if (std::optional<Var> nodes = FirstSet(getenv, {"SLURM_JOB_NODELIST"})) {
    ASSIGN_OR_RETURN(info.master_addr, FirstSlurmHost(*nodes));
  } else if (std::optional<Var> launch = FirstSet(getenv, {"SLURM_LAUNCH_NODE_IPADDR"})) {
    if (!IsHostOrAddress(launch->value)) return Malformed(*launch, "an IP address");
    info.master_addr = launch->value;
  }
  return info;
}

absl::StatusOr<RankInfo> RankInfoFromEnv() {
  return RankInfoFromEnv([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

absl::StatusOr<torch::Device> RankDevice(const std::string& configured, const RankInfo& info) {
  const std::string name = configured.empty() ? "cpu" : configured;
  try {
    torch::Device device(name);
    if (device.is_cuda() && !device.has_index()) {
      device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(info.local_rank));
    }
    return device;
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("run.device '", name, "' is not a device (cpu, cuda, cuda:N, ...)"));
  }
}

}  // namespace pelican
