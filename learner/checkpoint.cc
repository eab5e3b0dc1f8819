#include "learner/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace pelican {
namespace {

namespace fs = std::filesystem;

constexpr char kManifest[] = "manifest.json";
constexpr char kStepPrefix[] = "step-";
constexpr char kTempPrefix[] = ".tmp-";
constexpr char kOldPrefix[] = ".old-";

std::string StepName(uint64_t step) { return absl::StrFormat("%s%08d", kStepPrefix, step); }

// Size and SHA-256 of one file, streamed (optimizer states can be large).
absl::Status HashFile(const fs::path& path, uint64_t* size, std::string* sha) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::DataLossError(absl::StrCat("cannot open ", path.string()));
  Sha256 hasher;
  std::vector<char> buffer(1 << 20);
  *size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize n = in.gcount();
    if (n > 0) {
      hasher.Update(buffer.data(), static_cast<size_t>(n));
      *size += static_cast<uint64_t>(n);
    }
  }
  *sha = hasher.HexDigest();
  return absl::OkStatus();
}

// Every regular file under dir except the manifest, as paths relative to dir, sorted.
std::vector<std::string> FilesUnder(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string rel = fs::relative(entry.path(), dir).string();
    if (rel != kManifest) files.push_back(rel);
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::Status SyncTree(const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    RETURN_IF_ERROR(SyncPath(entry.path().string()));
  }
  return SyncPath(dir.string());
}

void RemoveQuietly(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) PELICAN_LOG(WARNING) << "could not remove " << path.string() << ": " << ec.message();
}

absl::StatusOr<nlohmann::json> ReadManifest(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/" + kManifest));
  nlohmann::json manifest = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("files") ||
      !manifest["files"].is_object()) {
    return absl::DataLossError(absl::StrCat(dir, "/", kManifest, " is not a valid manifest"));
  }
  return manifest;
}

}  // namespace

std::string CheckpointStepDir(const std::string& root, uint64_t step) {
  return (fs::path(root) / StepName(step)).string();
}

absl::StatusOr<std::string> WriteCheckpoint(
    const std::string& root, uint64_t step, const CheckpointWriteOptions& options,
    const std::function<absl::Status(const std::string& dir)>& write) {
  RETURN_IF_ERROR(MakeDirs(root));
  const fs::path root_path(root);
  // Leftovers of writes that crashed.
  for (const auto& entry : fs::directory_iterator(root_path)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kTempPrefix, 0) == 0 || name.rfind(kOldPrefix, 0) == 0) {
      RemoveQuietly(entry.path());
    }
  }
  const std::string name = StepName(step);
  const fs::path temp = root_path / absl::StrCat(kTempPrefix, name, "-", getpid());
  RETURN_IF_ERROR(MakeDirs(temp.string()));
  absl::Status status = write(temp.string());
  if (!status.ok()) {
    RemoveQuietly(temp);
    return status;
  }

  nlohmann::json files = nlohmann::json::object();
  for (const std::string& rel : FilesUnder(temp)) {
    uint64_t size = 0;
    std::string sha;
    RETURN_IF_ERROR(HashFile(temp / rel, &size, &sha));
    files[rel] = {{"bytes", size}, {"sha256", sha}};
  }
  nlohmann::json manifest = {
      {"format", 1},
      {"step", step},
      {"config_fingerprint", options.config_fingerprint},
      {"created", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())},
      {"files", files}};
  RETURN_IF_ERROR(WriteFileAtomic((temp / kManifest).string(), manifest.dump(2) + "\n"));
  RETURN_IF_ERROR(SyncTree(temp));

  const fs::path final_path = root_path / name;
  std::error_code ec;
  if (fs::exists(final_path)) {
    const fs::path old = root_path / absl::StrCat(kOldPrefix, name, "-", getpid());
    fs::rename(final_path, old, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("moving aside ", final_path.string(), ": ", ec.message()));
  }
  fs::rename(temp, final_path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("renaming ", temp.string(), " to ", final_path.string(), ": ", ec.message()));
  }
  RETURN_IF_ERROR(SyncPath(root));
  for (const auto& entry : fs::directory_iterator(root_path)) {
    if (entry.path().filename().string().rfind(kOldPrefix, 0) == 0) RemoveQuietly(entry.path());
  }

  // Prune: keep the newest keep_last and every protected step.
  std::vector<CheckpointInfo> all = ListCheckpoints(root);
  const size_t keep = std::max<uint32_t>(1, options.keep_last);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    if (options.keep_steps.count(all[i].step) > 0) continue;
    RemoveQuietly(all[i].dir);
  }
  return final_path.string();
}

absl::Status VerifyCheckpoint(const std::string& dir) {
  ASSIGN_OR_RETURN(nlohmann::json manifest, ReadManifest(dir));
  const nlohmann::json& files = manifest["files"];
  for (const std::string& rel : FilesUnder(dir)) {
    if (!files.contains(rel)) {
      return absl::DataLossError(absl::StrCat(dir, ": ", rel, " is not in the manifest"));
    }
  }
  for (const auto& [rel, entry] : files.items()) {
    const fs::path path = fs::path(dir) / rel;
    if (!fs::is_regular_file(path)) {
      return absl::DataLossError(absl::StrCat(dir, ": ", rel, " is missing"));
    }
    uint64_t size = 0;
    std::string sha;
    RETURN_IF_ERROR(HashFile(path, &size, &sha));
    if (!entry.contains("bytes") || !entry.contains("sha256") ||
        entry["bytes"].get<uint64_t>() != size || entry["sha256"].get<std::string>() != sha) {
      return absl::DataLossError(absl::StrCat(dir, ": ", rel,
                                              " does not match its manifest entry (", size,
                                              " bytes, sha256 ", sha.substr(0, 12), "…)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckpointFingerprint(const std::string& dir) {
  ASSIGN_OR_RETURN(nlohmann::json manifest, ReadManifest(dir));
  return manifest.value("config_fingerprint", std::string());
}

std::vector<CheckpointInfo> ListCheckpoints(const std::string& root) {
  std::vector<CheckpointInfo> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    uint64_t step = 0;
    if (!entry.is_directory() || name.rfind(kStepPrefix, 0) != 0 ||
        !absl::SimpleAtoi(name.substr(sizeof(kStepPrefix) - 1), &step)) {
      continue;
    }
    out.push_back({entry.path().string(), step});
  }
  std::sort(out.begin(), out.end(),
            [](const CheckpointInfo& a, const CheckpointInfo& b) { return a.step < b.step; });
  return out;
}

absl::StatusOr<CheckpointInfo> FindLatestCheckpoint(const std::string& root) {
  std::vector<CheckpointInfo> all = ListCheckpoints(root);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    absl::Status status = VerifyCheckpoint(it->dir);
    if (status.ok()) return *it;
    PELICAN_LOG(WARNING) << "skipping corrupt checkpoint: " << status.message();
  }
  return absl::NotFoundError(absl::StrCat("no valid checkpoint under ", root));
}

}  // namespace pelican
