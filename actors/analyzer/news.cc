#include "actors/analyzer/news.h"

#include <algorithm>

namespace ctk::analyzer {

std::string_view base_symbol(std::string_view market_symbol) {
  const auto dash = market_symbol.rfind('-');
  return dash == std::string_view::npos ? market_symbol : market_symbol.substr(dash + 1);
}

bool news_book::add(const std::string& source, std::int64_t published_ms, double score, const std::string& id,
                    const std::vector<std::string>& symbols) {
  auto [src, fresh] = newest_.try_emplace(source, published_ms);
  if (!fresh) {
    if (published_ms < src->second - lateness_ms_) return false;
    src->second = std::max(src->second, published_ms);
  }
  for (const auto& sym : symbols) {
    auto& q = by_symbol_[sym];
    // Mostly in time order already: the insertion point is near the end.
    auto at =
        std::upper_bound(q.begin(), q.end(), published_ms, [](std::int64_t t, const item& i) { return t < i.at; });
    q.insert(at, item{published_ms, score, id});
    if (q.size() > per_symbol_) q.pop_front();
  }
  return true;
}

std::int64_t news_book::watermark() const {
  if (newest_.empty()) return none;
  std::int64_t w = std::numeric_limits<std::int64_t>::max();
  for (const auto& [s, t] : newest_) w = std::min(w, t);
  return w - lateness_ms_;
}

news_stats news_book::stats(std::string_view symbol, std::int64_t from_ms, std::int64_t to_ms) const {
  news_stats out;
  auto it = by_symbol_.find(symbol);
  if (it == by_symbol_.end()) return out;
  const auto& q = it->second;
  auto first = std::upper_bound(q.begin(), q.end(), from_ms, [](std::int64_t t, const item& i) { return t < i.at; });
  auto last = std::upper_bound(first, q.end(), to_ms, [](std::int64_t t, const item& i) { return t < i.at; });
  std::vector<const item*> window;
  for (auto i = first; i != last; ++i) window.push_back(&*i);
  // Newest first, then summed in that order: independent of the order in
  // which items of equal time (of different sources) were read.
  std::sort(window.begin(), window.end(),
            [](const item* a, const item* b) { return a->at != b->at ? a->at > b->at : a->id > b->id; });
  double sum = 0;
  for (const item* i : window) sum += i->score;
  out.count = static_cast<std::int64_t>(window.size());
  if (out.count > 0) out.mean = sum / static_cast<double>(out.count);
  for (std::size_t k = 0; k < window.size() && k < 5; ++k) out.newest.push_back(window[k]->id);
  return out;
}

std::size_t news_book::items(std::string_view symbol) const {
  auto it = by_symbol_.find(symbol);
  return it == by_symbol_.end() ? 0 : it->second.size();
}

}  // namespace ctk::analyzer
