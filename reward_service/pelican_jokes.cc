#include "reward_service/pelican_jokes.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace pelican::reward {
namespace {

constexpr char kPromptHead[] = "Why did the pelican ";
constexpr char kPromptTail[] = "? ";

const std::vector<std::string>& FlatPunchlines() {
  static const auto* flat =
      new std::vector<std::string>{"because it wanted one", "for no reason", "to take it home",
                                   "because it was bored", "to show its friends"};
  return *flat;
}

// Lower-case words, and each punctuation mark as a word of its own.
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      word += static_cast<char>(std::tolower(c));
      continue;
    }
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
    if (std::ispunct(c)) words.emplace_back(1, ch);
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string Capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

const std::vector<JokeThing>& JokeThings() {
  static const auto* things = new std::vector<JokeThing>{
      {"fish", "scales", "to weigh its scales"}, {"boat", "sail", "to set sail"},
      {"piano", "keys", "for the keys"},         {"tree", "bark", "for the bark"},
      {"clock", "time", "to kill time"},         {"ladder", "heights", "to reach new heights"},
      {"bank", "interest", "for the interest"},  {"drum", "beat", "to keep the beat"},
      {"lamp", "light", "to see the light"},     {"map", "way", "to find its way"},
      {"bell", "ring", "to give you a ring"},    {"pen", "draw", "to draw a crowd"},
      {"rope", "ropes", "to learn the ropes"},   {"egg", "crack", "to crack a smile"},
      {"cloud", "rain", "to rain on a parade"},  {"hat", "top", "to stay on top"},
      {"book", "plot", "for the plot"},          {"kite", "strings", "to pull some strings"},
      {"shoe", "sole", "for its sole"},          {"bread", "dough", "to make some dough"}};
  return *things;
}

const std::vector<std::string>& JokeVerbs() {
  static const auto* verbs = new std::vector<std::string>{
      "bring", "buy",  "steal", "want",  "borrow", "carry", "hide", "paint",
      "find",  "need", "build", "order", "rent",   "sell",  "wrap", "fix"};
  return *verbs;
}

std::string JokePrompt(const std::string& verb, const std::string& thing) {
  return absl::StrCat(kPromptHead, verb, " a ", thing, kPromptTail);
}

absl::StatusOr<std::string> JokePromptThing(const std::string& prompt) {
  const size_t head = sizeof(kPromptHead) - 1;
  const size_t a = prompt.find(" a ", head);
  const size_t q = prompt.rfind('?');
  if (!absl::StartsWith(prompt, kPromptHead) || a == std::string::npos || q == std::string::npos ||
      q < a + 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a pelican-jokes prompt (\"Why did the pelican <verb> a <thing>?\"): \"",
                     prompt.substr(0, 80), "\""));
  }
  std::string thing = prompt.substr(a + 3, q - a - 3);
  for (const JokeThing& t : JokeThings()) {
    if (thing == t.thing) return thing;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("pelican-jokes prompt about an unknown thing \"", thing.substr(0, 40), "\""));
}

absl::StatusOr<double> GoldJokeScore(const std::string& prompt, const std::string& completion) {
  absl::StatusOr<std::string> thing = JokePromptThing(prompt);
  if (!thing.ok()) return thing.status();
  const std::vector<std::string> words = Words(completion);
  std::map<std::string, int> uses;
  for (const std::string& w : words) ++uses[w];
  double score = 0.0;
  for (const JokeThing& t : JokeThings()) {
    if (uses.count(t.pun) == 0) continue;
    score += *thing == t.thing ? 0.6 : -0.3;
  }
  if (!words.empty() && (words[0] == "to" || words[0] == "for" || words[0] == "because")) {
    score += 0.2;
  }
  if (!words.empty() && (words.back() == "." || words.back() == "!")) score += 0.2;
  int spoken = 0, marks = 0;
  for (const auto& [word, n] : uses) {
    if (std::isalnum(static_cast<unsigned char>(word[0]))) {
      spoken += n;
      score -= 0.2 * (n - 1);
    } else {
      marks += n;
    }
  }
  score -= 0.2 * std::max(0, marks - 3);
  score -= 0.1 * std::max(0, spoken - 7);
  return std::clamp(score, 0.0, 1.0);
}

std::string SampleJokeCompletion(size_t thing, std::mt19937_64& rng) {
  const std::vector<JokeThing>& things = JokeThings();
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double kind = u(rng);
  std::string line;
  bool landed = false;
  if (kind < 0.35) {
    line = things[thing].punchline;
    landed = true;
  } else if (kind < 0.75) {
    size_t other = std::uniform_int_distribution<size_t>(0, things.size() - 2)(rng);
    if (other >= thing) ++other;
    line = things[other].punchline;
  } else {
    const std::vector<std::string>& flat = FlatPunchlines();
    line = flat[std::uniform_int_distribution<size_t>(0, flat.size() - 1)(rng)];
  }
  if (landed) {
    if (u(rng) < 0.1) return Capitalised(line) + ".";
    return Capitalised(line) + std::string(std::uniform_int_distribution<int>(1, 3)(rng), '!');
  }
  return Capitalised(line) + (u(rng) < 0.2 ? "!" : ".");
}

std::vector<absl::StatusOr<ScoreValue>> PelicanJokesGoldScorer::ScoreBatch(
    absl::Span<const ScoreInput> batch) {
  const auto score_one = [](const ScoreInput& in) -> absl::StatusOr<ScoreValue> {
    ASSIGN_OR_RETURN(const std::string* text, CompletionText(in));
    ASSIGN_OR_RETURN(double score, GoldJokeScore(in.prompt_text, *text));
    return ScoreValue(score);
  };
  std::vector<absl::StatusOr<ScoreValue>> out;
  out.reserve(batch.size());
  for (const ScoreInput& in : batch) out.push_back(score_one(in));
  return out;
}

}  // namespace pelican::reward
