// Atomic, self-verifying checkpoint directories under <run_dir>/checkpoints/:
//
//   step-00000120/            one finished checkpoint (the name sorts by step)
//     manifest.json           step, config fingerprint, time, and size + SHA-256 of every file
//     policy/                 an HF model directory (load it with any HF-format tool)
//     ...                     whatever the writer put there (optimizer, trainer and ledger state)
//   .tmp-step-00000130-<pid>  a checkpoint being written; never read, removed on the next write
//
// A checkpoint is written into a temporary directory, every file and directory is fsynced, and
// only then is it renamed to its final name (and the parent fsynced): a crash at any moment leaves
// either no checkpoint of that step or a complete one. Reading verifies the manifest, so a
// checkpoint damaged later (disk, a half-copied directory) is detected and the previous one used.
//
// Thread safety: none; one writer per run directory (the learner's rank 0).
#ifndef PELICAN_LEARNER_CHECKPOINT_H_
#define PELICAN_LEARNER_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pelican {

struct CheckpointInfo {
  std::string dir;
  uint64_t step = 0;
};

struct CheckpointWriteOptions {
  std::string config_fingerprint;
  // Finished checkpoints kept after this one is written, newest first (>= 1).
  uint32_t keep_last = 3;
  // Steps never pruned (the guard's best checkpoint).
  std::set<uint64_t> keep_steps;
};

// The directory the checkpoint of `step` has under `root` (root/step-00000012).
std::string CheckpointStepDir(const std::string& root, uint64_t step);

// Creates a temporary directory under `root`, calls `write(temp_dir)` to fill it, writes the
// manifest, syncs, renames it to step-<step>, then prunes older checkpoints beyond keep_last
// (except keep_steps) and stale temporary directories. Returns the final directory.
// An existing checkpoint of the same step is replaced (atomically: the old one is renamed away
// first and removed after). On error nothing is left behind but a temp dir the next call removes.
absl::StatusOr<std::string> WriteCheckpoint(
    const std::string& root, uint64_t step, const CheckpointWriteOptions& options,
    const std::function<absl::Status(const std::string& dir)>& write);

// Checks `dir` against its manifest: every listed file present with its size and SHA-256, and
// no file missing from the list. DATA_LOSS naming the first problem.
absl::Status VerifyCheckpoint(const std::string& dir);

// The config fingerprint recorded in `dir`'s manifest.
absl::StatusOr<std::string> CheckpointFingerprint(const std::string& dir);

// Finished checkpoints under `root`, oldest first (not verified). Empty when root is missing.
std::vector<CheckpointInfo> ListCheckpoints(const std::string& root);

// The newest checkpoint under `root` that verifies; corrupt newer ones are logged and skipped.
// NOT_FOUND when there is none.
absl::StatusOr<CheckpointInfo> FindLatestCheckpoint(const std::string& root);

}  // namespace pelican

#endif  // PELICAN_LEARNER_CHECKPOINT_H_
