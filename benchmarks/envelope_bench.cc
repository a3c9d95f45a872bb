// Envelope decode/encode: the per-message cost every actor pays.
// Run: build/benchmarks/envelope_bench  (see benchmarks/RESULTS.md)
#include <benchmark/benchmark.h>

#include "messages/envelope.h"

using namespace ctk::msg;

namespace {
// A ~350-byte market envelope, the size of a real one (and of the transport benchmarks').
std::string market_envelope() {
  market_data d{"KRW-BTC", 80123456.5, 1234.5678912, -0.0108, "2026-11-23T11:00:00.000Z"};
  envelope e;
  e.id = record_id("upbit", natural_key(d));
  e.source = "upbit";
  e.kind = "market";
  e.fetched_at = "2026-11-23T11:00:00.123Z";
  e.url = "https://api.upbit.com/v1/ticker/all?quote_currencies=KRW";
  e.trace = "6f1c2a9e-3b7d-4c55-9a0e-1f2d3c4b5a69";
  encode(d, e.data.text);
  std::string out;
  encode(e, out);
  return out;
}

void decode_envelope(benchmark::State& st) {
  const std::string json = market_envelope();
  json_decoder dec;
  envelope e;
  decode_error err;
  for (auto _ : st) {
    bool ok = dec.decode(json, e, err);
    benchmark::DoNotOptimize(ok);
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * json.size()));
  st.SetLabel(std::to_string(json.size()) + " B, simdjson kernel " + simdjson::get_active_implementation()->name());
}
BENCHMARK(decode_envelope);

void decode_envelope_and_market_data(benchmark::State& st) {
  const std::string json = market_envelope();
  json_decoder dec, dec2;
  envelope e;
  market_data m;
  decode_error err;
  for (auto _ : st) {
    bool ok = dec.decode(json, e, err) && dec2.decode(e.data.text, m, err);
    benchmark::DoNotOptimize(ok);
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * json.size()));
}
BENCHMARK(decode_envelope_and_market_data);

void encode_envelope(benchmark::State& st) {
  const std::string json = market_envelope();
  json_decoder dec;
  envelope e;
  decode_error err;
  dec.decode(json, e, err);
  std::string out;
  for (auto _ : st) {
    bool ok = encode(e, out);
    benchmark::DoNotOptimize(ok);
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * json.size()));
}
BENCHMARK(encode_envelope);

void encode_market_data(benchmark::State& st) {
  market_data d{"KRW-BTC", 80123456.5, 1234.5678912, -0.0108, "2026-11-23T11:00:00.000Z"};
  std::string out;
  for (auto _ : st) {
    bool ok = encode(d, out);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(encode_market_data);

void compute_record_id(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(record_id("coinness", "https://coinness.com/news/123456"));
}
BENCHMARK(compute_record_id);

void decode_news_10k_content(benchmark::State& st) {
  news_data n{"비트코인 급등", "https://example.com/a", std::string(10000, 'x'), "2026-11-23T00:00:00Z", {"BTC"}};
  std::string json;
  encode(n, json);
  json_decoder dec;
  news_data back;
  decode_error err;
  for (auto _ : st) benchmark::DoNotOptimize(dec.decode(json, back, err));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * json.size()));
}
BENCHMARK(decode_news_10k_content);
}  // namespace

BENCHMARK_MAIN();
