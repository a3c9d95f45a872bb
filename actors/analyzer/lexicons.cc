// The lexicon files the analyzer's settings name, for the actor and for
// `cointicker config check`.
#include <filesystem>

#include "actors/analyzer/analyzer.h"
#include "actors/analyzer/sentiment.h"

namespace ctk::analyzer {

namespace {
std::string resolve(const std::string& config_dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(config_dir) / path).lexically_normal().string();
}
}  // namespace

sentiment_scorer::files lexicon_files(const cfg::analyzer_settings& s, const std::string& config_dir) {
  return {resolve(config_dir, s.korean_lexicon), resolve(config_dir, s.english_lexicon),
          resolve(config_dir, s.english_extra), resolve(config_dir, s.symbols)};
}

std::vector<std::string> check_lexicons(const cfg::analyzer_settings& s, const std::string& config_dir) {
  std::vector<lexicon_error> errors;
  sentiment_scorer::load(lexicon_files(s, config_dir), s.sentiment_threshold, errors);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

}  // namespace ctk::analyzer
