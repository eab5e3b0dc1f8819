#include "cli/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "nlohmann/json.hpp"

namespace pelican::cli {
namespace {

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A line chart of ys over xs, 420 × 180 pixels, with min/max labels.
std::string Chart(const std::string& title, const std::vector<double>& xs,
                  const std::vector<double>& ys) {
  std::string svg = absl::StrCat("<figure><figcaption>", Escape(title), "</figcaption>");
  if (xs.size() < 2) return svg + "<p>(fewer than two steps)</p></figure>";
  const double w = 420, h = 180, pad = 30;
  const auto [ymin_it, ymax_it] = std::minmax_element(ys.begin(), ys.end());
  double ymin = *ymin_it, ymax = *ymax_it;
  if (ymax - ymin < 1e-12) {
    ymin -= 0.5;
    ymax += 0.5;
  }
  const double xmin = xs.front(), xmax = xs.back() > xs.front() ? xs.back() : xs.front() + 1;
  std::string points;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = pad + (xs[i] - xmin) / (xmax - xmin) * (w - 2 * pad);
    const double y = h - pad - (ys[i] - ymin) / (ymax - ymin) * (h - 2 * pad);
    absl::StrAppendFormat(&points, "%.1f,%.1f ", x, y);
  }
  absl::StrAppendFormat(
      &svg,
      "<svg width='%.0f' height='%.0f'><rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' "
      "fill='none' stroke='#ccc'/><polyline fill='none' stroke='#1f77b4' stroke-width='1.5' "
      "points='%s'/><text x='2' y='%.0f' font-size='10'>%.4g</text><text x='2' y='%.0f' "
      "font-size='10'>%.4g</text><text x='%.0f' y='%.0f' font-size='10'>step %.0f</text>"
      "<text x='%.0f' y='%.0f' font-size='10' text-anchor='end'>step %.0f</text></svg></figure>",
      w, h, pad, pad, w - 2 * pad, h - 2 * pad, points, pad + 4, ymax, h - pad, ymin, pad, h - 8,
      xmin, w - pad, h - 8, xmax);
  return svg;
}

// What the reward-hacking guard did, from summary.json's "guard".
std::string GuardParagraph(const std::string& run_dir) {
  absl::StatusOr<std::string> text = ReadFile(run_dir + "/summary.json");
  if (!text.ok()) return "";
  const nlohmann::json summary = nlohmann::json::parse(*text, nullptr, false);
  if (!summary.is_object() || !summary.contains("guard")) return "";
  const nlohmann::json& g = summary["guard"];
  if (!g.value("enabled", false)) return "<p>reward-hacking guard: off</p>";
  std::string out = "<p>reward-hacking guard: ";
  if (g.value("tripped", false)) {
    absl::StrAppendFormat(&out, "<b>tripped</b> at step %d on %s (%s)", g.value("step", 0),
                          Escape(g.value("reason", "")), Escape(g.value("action", "")));
  } else {
    out += "not tripped";
  }
  if (g.contains("best_score")) {
    absl::StrAppendFormat(&out, "; best gold score %.3f at step %d", g.value("best_score", 0.0),
                          g.value("best_step", 0));
  }
  absl::StrAppendFormat(&out, "; kept checkpoint %s</p>", Escape(g.value("kept_checkpoint", "")));
  return out;
}

// Completions with their gold score, and the training reward beside it when the probe had
// separate gold scorers (guard.gold).
std::string SampleTable(const std::string& title, const EvalResult& r, size_t n) {
  std::string html = absl::StrCat("<h3>", Escape(title), "</h3><table><tr><th>prompt</th>",
                                  "<th>completion</th><th>reference</th><th>score</th>",
                                  r.has_gold ? "<th>training reward</th>" : "", "</tr>");
  for (size_t i = 0; i < std::min(n, r.samples.size()); ++i) {
    const EvalSample& s = r.samples[i];
    absl::StrAppendFormat(&html, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%.3f</td>",
                          Escape(s.prompt), Escape(s.completion), Escape(s.reference), s.score);
    if (r.has_gold) absl::StrAppendFormat(&html, "<td>%.3f</td>", s.reward);
    html += "</tr>";
  }
  return html + "</table>";
}

// The samples of a JSONL file of probe completions (probes/step-*.jsonl, harvest.jsonl).
EvalResult ReadSamples(const std::string& path) {
  EvalResult r;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return r;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (!j.is_object()) continue;
    r.has_gold = r.has_gold || j.contains("reward");
    r.samples.push_back({j.value("prompt", ""), j.value("completion", ""), j.value("reference", ""),
                         j.value("score", j.value("gold", 0.0)), j.value("reward", 0.0)});
  }
  return r;
}

// Completions of the learner's gold probes (probes/step-*.jsonl) at the start, middle and end of
// training.
std::string ProbeTables(const std::string& run_dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(run_dir + "/probes", ec)) {
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  }
  if (files.empty()) return "";
  std::sort(files.begin(), files.end());
  std::vector<size_t> picks = {0, files.size() / 2, files.size() - 1};
  picks.erase(std::unique(picks.begin(), picks.end()), picks.end());
  std::string html;
  for (size_t i : picks) {
    const std::string name = std::filesystem::path(files[i]).stem().string();
    html +=
        SampleTable(absl::StrCat("Gold probe during training, ", name), ReadSamples(files[i]), 8);
  }
  return html;
}

}  // namespace

absl::Status WriteReport(const std::string& run_dir, const v1::RunConfig& config,
                         const EvalResult& before, const std::optional<EvalResult>& after) {
  std::vector<nlohmann::json> steps;
  if (absl::StatusOr<std::string> text = ReadFile(run_dir + "/metrics.jsonl"); text.ok()) {
    for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
      nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
      if (j.is_object()) steps.push_back(std::move(j));
    }
  }
  std::vector<double> xs;
  for (const auto& j : steps) xs.push_back(j.value("step", 0.0));
  auto series = [&](const char* key) {
    std::vector<double> ys;
    for (const auto& j : steps) ys.push_back(j.value(key, 0.0));
    return ys;
  };
  // The gold probe runs every guard.eval_every_steps: its chart has those steps only.
  std::vector<double> gold_xs, gold_ys, probe_reward_xs, probe_reward_ys;
  for (const auto& j : steps) {
    if (j.contains("gold_score")) {
      gold_xs.push_back(j.value("step", 0.0));
      gold_ys.push_back(j.value("gold_score", 0.0));
    }
    if (j.contains("probe_reward")) {
      probe_reward_xs.push_back(j.value("step", 0.0));
      probe_reward_ys.push_back(j.value("probe_reward", 0.0));
    }
  }
  std::string html = absl::StrCat(
      "<!doctype html><html><head><meta charset='utf-8'><title>pelican run ",
      Escape(config.run().name()),
      "</title><style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;"
      "margin:0.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
      "font-family:monospace}</style></head><body><h1>pelican run: ",
      Escape(config.run().name()), "</h1>");
  absl::StrAppendFormat(&html, "<p>algorithm %s, %d steps, held-out score before RL <b>%.3f</b>",
                        v1::Algorithm_Name(config.learner().algorithm()), steps.size(),
                        before.score);
  if (after) absl::StrAppendFormat(&html, ", after <b>%.3f</b>", after->score);
  html += "</p>";
  html += GuardParagraph(run_dir);
  const std::vector<std::pair<const char*, const char*>> charts = {
      {"reward_mean", "training reward (mean)"},
      {"kl", "KL to the reference"},
      {"entropy", "entropy (nats/token)"},
      {"response_length", "completion length (tokens)"},
      {"policy_loss", "policy loss"},
      {"tokens_per_s", "throughput (tokens/s)"}};
  if (!gold_xs.empty()) html += Chart("gold probe score (held-out)", gold_xs, gold_ys);
  if (!probe_reward_xs.empty()) {
    html +=
        Chart("training reward of the gold probe's completions", probe_reward_xs, probe_reward_ys);
  }
  for (const auto& [key, title] : charts) html += Chart(title, xs, series(key));
  html += SampleTable("Held-out completions at the start", before, 12);
  html += ProbeTables(run_dir);
  if (after) html += SampleTable("Held-out completions of the kept checkpoint", *after, 12);
  const std::string harvest = config.guard().harvest_file().empty() ? run_dir + "/harvest.jsonl"
                                                                    : config.guard().harvest_file();
  if (EvalResult gamed = ReadSamples(harvest); !gamed.samples.empty()) {
    html += SampleTable(absl::StrCat("Harvested by the guard: high training reward, low gold (",
                                     gamed.samples.size(), " in ", harvest, ")"),
                        gamed, 16);
  }
  html += "</body></html>\n";
  return WriteFileAtomic(run_dir + "/report.html", html);
}

}  // namespace pelican::cli
