// Per-message CPU of the validator's check, without Kafka: what one
// `valid` record costs before the transport (benchmarks/RESULTS.md).
// Run: build/benchmarks/actor_bench
#include <benchmark/benchmark.h>

#include <string>

#include "actors/validator/validator.h"

namespace {
// The raw upbit envelope benchmarks/stage_throughput.sh produces.
std::string raw_market(int i) {
  return R"({"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-23T11:00:00.123Z","url":"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW","trace":"6f1c2a9e-3b7d-4c55-9a0e-1f2d3c4b5a69","data":{"symbol":"krw-c)" +
         std::to_string(i) + R"(","price":")" + std::to_string(80123456.5 + i) +
         R"(","volume_24h":1234.5678,"change_24h":-0.0108,"timestamp":1725543306000}})";
}

void validator_check_market(benchmark::State& st) {
  std::vector<std::string> in;
  for (int i = 0; i < 1024; ++i) in.push_back(raw_market(i));
  ctk::validator::checker c;
  const std::int64_t now = 1'795'000'000'000 + 86'400'000LL * 400;
  std::size_t i = 0;
  for (auto _ : st) {
    auto r = c.check(in[i++ & 1023], now);
    if (!r.ok) st.SkipWithError(r.reason.c_str());
    benchmark::DoNotOptimize(r);
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * in[0].size()));
}
BENCHMARK(validator_check_market);
}  // namespace

BENCHMARK_MAIN();
