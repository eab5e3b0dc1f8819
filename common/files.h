// Small file helpers with Status errors: whole-file reads and atomic writes (temp file, fsync,
// rename, fsync of the directory), so a crash leaves either the old or the new file.
#ifndef PELICAN_COMMON_FILES_H_
#define PELICAN_COMMON_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pelican {

absl::StatusOr<std::string> ReadFile(const std::string& path);
absl::Status WriteFileAtomic(const std::string& path, absl::string_view contents);
// mkdir -p.
absl::Status MakeDirs(const std::string& path);
// fsync of a file or directory.
absl::Status SyncPath(const std::string& path);

}  // namespace pelican

#endif  // PELICAN_COMMON_FILES_H_
