// report.html of a run: charts over steps from metrics.jsonl (reward, KL, entropy, length,
// losses, throughput) as inline SVG, the held-out score before and after, and held-out
// completions of the start and the kept checkpoint side by side. One self-contained file.
#ifndef PELICAN_CLI_REPORT_H_
#define PELICAN_CLI_REPORT_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "learner/evaluation.h"
#include "pelican/v1/config.pb.h"

namespace pelican::cli {

absl::Status WriteReport(const std::string& run_dir, const v1::RunConfig& config,
                         const EvalResult& before, const std::optional<EvalResult>& after);

}  // namespace pelican::cli

#endif  // PELICAN_CLI_REPORT_H_
