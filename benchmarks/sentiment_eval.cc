// Sentiment on the labelled headlines (tests/fixtures/sentiment): accuracy
// and macro-F1 per language and overall, next to the majority-class
// baseline on the same set; then the scorer's speed in items per second on
// one core. Every miss is listed with --misses.
//   build/benchmarks/sentiment_eval [--config DIR] [--misses] [--items N]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>

#include "actors/analyzer/sentiment.h"
#include "config/loader.h"

namespace {

struct example {
  std::string label, text, lang;
};

std::vector<example> read_set(const std::string& path, const std::string& lang) {
  std::vector<example> v;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    v.push_back({line.substr(0, tab), line.substr(tab + 1), lang});
  }
  return v;
}

struct scores {
  double accuracy = 0, macro_f1 = 0;
};

scores evaluate(const std::vector<example>& set, const std::vector<std::string>& predicted) {
  const std::vector<std::string> labels{"positive", "neutral", "negative"};
  std::size_t correct = 0;
  double f1_sum = 0;
  for (std::size_t i = 0; i < set.size(); ++i) correct += set[i].label == predicted[i];
  for (const auto& l : labels) {
    double tp = 0, fp = 0, fn = 0;
    for (std::size_t i = 0; i < set.size(); ++i) {
      if (predicted[i] == l && set[i].label == l)
        ++tp;
      else if (predicted[i] == l)
        ++fp;
      else if (set[i].label == l)
        ++fn;
    }
    const double p = tp + fp > 0 ? tp / (tp + fp) : 0, r = tp + fn > 0 ? tp / (tp + fn) : 0;
    f1_sum += p + r > 0 ? 2 * p * r / (p + r) : 0;
  }
  return {static_cast<double>(correct) / static_cast<double>(set.size()), f1_sum / 3};
}

std::string majority(const std::vector<example>& set) {
  std::map<std::string, int> n;
  for (const auto& e : set) ++n[e.label];
  return std::max_element(n.begin(), n.end(), [](auto a, auto b) { return a.second < b.second; })->first;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sentiment evaluation and speed"};
  std::string config = std::string(CTK_SOURCE_DIR) + "/config";
  bool misses = false;
  std::size_t items = 200000;
  app.add_option("--config", config, "config folder (lexicon paths are relative to it)");
  app.add_flag("--misses", misses, "list every headline the scorer got wrong");
  app.add_option("--items", items, "headlines scored for the speed measurement");
  CLI11_PARSE(app, argc, argv);

  ctk::cfg::loaded_config c;
  auto errors = ctk::cfg::load_config(config, c, environ);
  if (!errors.empty()) {
    std::cerr << errors.front().to_string() << "\n";
    return 1;
  }
  const auto& a = c.cluster.analyzer;
  auto resolve = [&](const std::string& p) { return p.starts_with("/") ? p : config + "/" + p; };
  std::vector<ctk::analyzer::lexicon_error> lerr;
  const auto scorer = ctk::analyzer::sentiment_scorer::load(
      {resolve(a.korean_lexicon), resolve(a.english_lexicon), resolve(a.english_extra), resolve(a.symbols)},
      a.sentiment_threshold, lerr);
  if (!lerr.empty()) {
    std::cerr << lerr.front().to_string() << "\n";
    return 1;
  }
  const std::string dir = std::string(CTK_SOURCE_DIR) + "/tests/fixtures/sentiment/";
  const auto ko = read_set(dir + "headlines_ko.tsv", "ko"), en = read_set(dir + "headlines_en.tsv", "en");
  std::vector<example> all = ko;
  all.insert(all.end(), en.begin(), en.end());

  fmt::print("sentiment on {} labelled headlines ({} Korean, {} English); lexicons: {} Korean, {} English entries\n",
             all.size(), ko.size(), en.size(), scorer.korean_entries(), scorer.english_entries());
  fmt::print("{:<10} {:>10} {:>10} {:>22} {:>22}\n", "set", "accuracy", "macro-F1", "baseline accuracy",
             "baseline macro-F1");
  for (const std::vector<example>* set : std::initializer_list<const std::vector<example>*>{&ko, &en, &all}) {
    std::vector<std::string> pred, base;
    const std::string maj = majority(*set);
    for (const auto& e : *set) {
      pred.push_back(scorer.score(e.text, "", {}, 0).label);
      base.push_back(maj);
    }
    const auto s = evaluate(*set, pred), b = evaluate(*set, base);
    const std::string name = set == &ko ? "korean" : set == &en ? "english" : "all";
    fmt::print("{:<10} {:>10.3f} {:>10.3f} {:>22.3f} {:>22.3f}\n", name, s.accuracy, s.macro_f1, b.accuracy,
               b.macro_f1);
    if (misses && set == &all)
      for (std::size_t i = 0; i < set->size(); ++i)
        if (pred[i] != (*set)[i].label) fmt::print("  miss: {} -> {}  {}\n", (*set)[i].label, pred[i], (*set)[i].text);
  }
  // Speed on one core: the same headlines over and over, with a body.
  const std::string body(600, ' ');
  std::size_t hits = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < items; ++i) {
    const auto& e = all[i % all.size()];
    hits += static_cast<std::size_t>(scorer.score(e.text, e.text, {}, 4096).hits);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("speed: {} items (title + body) in {:.2f} s = {:.0f} items/s on one core ({} lexicon hits)\n", items, secs,
             static_cast<double>(items) / secs, hits);
  return 0;
}
