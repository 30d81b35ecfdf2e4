// Replays a fuzz target without libFuzzer, so the normal g++ build and ctest catch
// regressions: every file of the target's committed seed corpus and regression inputs, then a
// fixed number of deterministic pseudo-random mutations of them (seeded; the same inputs on
// every run). MQ_FUZZ_REPLAY_MUTATIONS overrides the count, MQ_FUZZ_REPLAY_SEED the seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> ReadInputs(const std::string& dir) {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());  // the same order on every machine
  std::vector<std::string> inputs;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

int64_t EnvOr(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoll(v, nullptr, 10);
}

void Feed(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// libFuzzer-like byte mutations: flips, interesting values, inserts, erases, copies, cuts.
std::string Mutate(std::string s, std::mt19937_64& rng) {
  static constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, 0xC0, 0xFE};
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  const int rounds = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < rounds; ++i) {
    switch (pick(6)) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(kInteresting[pick(sizeof(kInteresting))]);
        break;
      case 2:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)), static_cast<char>(rng()));
        break;
      case 3:
        if (!s.empty()) s.erase(pick(s.size()), 1 + pick(8));
        break;
      case 4:
        if (!s.empty() && s.size() < 1 << 16) {
          size_t from = pick(s.size());
          s.insert(pick(s.size() + 1), s.substr(from, 1 + pick(16)));
        }
        break;
      default:
        s.resize(pick(s.size() + 1));
        break;
    }
  }
  return s;
}

TEST(FuzzReplay, SeedCorpusAndRegressions) {
  auto seeds = ReadInputs(MQ_FUZZ_CORPUS_DIR);
  ASSERT_FALSE(seeds.empty()) << "no seed corpus in " << MQ_FUZZ_CORPUS_DIR
                              << " (see tests/fuzz/README.md to generate it)";
  for (const auto& s : seeds) Feed(s);
  for (const auto& s : ReadInputs(MQ_FUZZ_REGRESSION_DIR)) Feed(s);
  Feed("");
}

TEST(FuzzReplay, DeterministicMutations) {
  auto seeds = ReadInputs(MQ_FUZZ_CORPUS_DIR);
  ASSERT_FALSE(seeds.empty());
  std::mt19937_64 rng(static_cast<uint64_t>(EnvOr("MQ_FUZZ_REPLAY_SEED", 12)));
  const int64_t count = EnvOr("MQ_FUZZ_REPLAY_MUTATIONS", 3000);
  // Bounded in time as well as count: a slow machine (ASan) stops early rather than time out.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  int64_t done = 0;
  for (; done < count && std::chrono::steady_clock::now() < deadline; ++done) {
    Feed(Mutate(seeds[static_cast<size_t>(rng() % seeds.size())], rng));
  }
  RecordProperty("mutations", std::to_string(done));
  EXPECT_GT(done, 0);
}

}  // namespace
