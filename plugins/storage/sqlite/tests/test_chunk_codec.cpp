// The chunk encoding (chunk_codec.hpp): every timestamp and every value's
// bits come back, whatever they are; the forms chosen are the compact ones
// for the data they were made for; a blob that is not a chunk is refused
// with a reason, never read past its end.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../chunk_codec.hpp"

namespace chunk = vitals::sqlite::chunk;

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'796'000'000 * kSecond;  // late 2026

// Encodes and decodes; checks every timestamp and every value's bits.
std::string round_trip(const std::vector<int64_t> &ts, const std::vector<double> &values) {
  std::string blob = chunk::encode(ts, values);
  chunk::Samples out;
  std::string error;
  REQUIRE_MESSAGE(chunk::decode(blob, out, error), error);
  REQUIRE(out.ts == ts);
  REQUIRE(out.values.size() == values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("value " << i << ": " << values[i]);
    CHECK(std::bit_cast<uint64_t>(out.values[i]) == std::bit_cast<uint64_t>(values[i]));
  }
  return blob;
}

std::vector<int64_t> steady(size_t n, int64_t step = 10 * kSecond, int64_t start = kT0) {
  std::vector<int64_t> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = start + static_cast<int64_t>(i) * step;
  return ts;
}

double bytes_per_sample(const std::string &blob, size_t n) { return static_cast<double>(blob.size()) / n; }

}  // namespace

TEST_CASE("empty and one-sample chunks") {
  round_trip({}, {});
  round_trip({kT0}, {21.5});
  round_trip({-1}, {-0.0});
  round_trip({0}, {std::numeric_limits<double>::quiet_NaN()});
}

TEST_CASE("timestamps at the int64 limits and in any steps") {
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  round_trip({lo, hi}, {1, 2});
  round_trip({lo, lo + 1, 0, hi - 1, hi}, {1, 2, 3, 4, 5});
  round_trip({-5 * kSecond, -kSecond, 0, 1, kSecond}, {0, 0, 0, 0, 0});
  std::mt19937_64 rng(7);
  std::vector<int64_t> ts;
  int64_t t = lo / 2;
  for (int i = 0; i < 5000; ++i) ts.push_back(t += 1 + static_cast<int64_t>(rng() % (1ull << (rng() % 48))));
  round_trip(ts, std::vector<double>(ts.size(), 1.0));
}

TEST_CASE("values of every kind keep their exact bits") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan_payload = std::bit_cast<double>(uint64_t{0x7ff8'dead'beef'0001});
  const double signalling = std::bit_cast<double>(uint64_t{0x7ff0'0000'0000'0001});
  std::vector<double> odd = {0.0,
                             -0.0,
                             inf,
                             -inf,
                             nan_payload,
                             signalling,
                             std::numeric_limits<double>::denorm_min(),
                             -std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::min(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest(),
                             1.0 / 3,
                             0.1 + 0.2,
                             9007199254740993.0,
                             1e300,
                             1e-300};
  round_trip(steady(odd.size()), odd);
  // Each alone too: a chunk of one kind takes its own form.
  for (double v : odd) round_trip(steady(3), {v, v, v});
}

TEST_CASE("decimals: one or two places, counters, whole thousands, mantissas near 2^53") {
  round_trip(steady(4), {21.5, 21.25, 21.3, -4.07});
  round_trip(steady(4), {0.001, 0.002, 1e-18, 3e-18});
  round_trip(steady(3), {4503599627370496.0, 4503599627370497.0, -4503599627370495.0});
  round_trip(steady(3), {9007199254740992.0, 9007199254740990.0, 1e18});
  round_trip(steady(3), {1.5e9, 2.5e12, 3e18});
  round_trip(steady(3), {123456789.123456789, 0.1, 1});
}

TEST_CASE("random doubles, random decimals and random mixes round-trip") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 200; ++round) {
    const size_t n = 1 + rng() % 700;
    std::vector<double> values(n);
    double walk = 0;
    for (auto &v : values) {
      switch (round % 4) {
        case 0:  // any bits at all, NaN payloads included
          v = std::bit_cast<double>(rng());
          break;
        case 1:  // decimals with up to 6 places
          v = static_cast<double>(static_cast<int64_t>(rng() % 2'000'000'000) - 1'000'000'000) /
              std::pow(10.0, static_cast<double>(rng() % 7));
          break;
        case 2:  // a random walk with two places
          walk += std::round(std::normal_distribution<>(0, 50)(rng));
          v = walk / 100;
          break;
        default:  // mostly decimals, sometimes not
          v = rng() % 10 ? static_cast<double>(rng() % 1000) / 10 : std::bit_cast<double>(rng());
      }
    }
    std::vector<int64_t> ts;
    int64_t t = static_cast<int64_t>(rng() >> 1) - (int64_t{1} << 62);
    for (size_t i = 0; i < n; ++i) ts.push_back(t += 1 + static_cast<int64_t>(rng() % (60 * kSecond)));
    round_trip(ts, values);
  }
}

TEST_CASE("the compact forms: steady timestamps and decimal gauges cost about a byte a sample or less") {
  const size_t n = 720;  // two hours at 10 s
  std::mt19937_64 rng(3);
  std::vector<double> walk(n), counter(n), constant(n, 42), bytes(n);
  double w = 20, c = 1e6, b = 4096.0 * 1e5;
  for (size_t i = 0; i < n; ++i) {
    // Rounded as a sensor's text is: sums of doubles drift off the decimals.
    walk[i] = w = std::round((w + std::normal_distribution<>(0, 10)(rng) / 100) * 100) / 100;
    counter[i] = (c += 1000 + static_cast<double>(rng() % 5));
    bytes[i] = (b += rng() % 50 == 0 ? 4096.0 * static_cast<double>(rng() % 100) : 0);
  }
  auto ts = steady(n);
  // Measured on this code; generous bounds, so that a change that breaks a
  // form (a steady timestamp no longer free, decimals falling back to XOR)
  // fails, and an encoder tweak does not.
  CHECK(bytes_per_sample(round_trip(ts, constant), n) < 0.1);
  CHECK(bytes_per_sample(round_trip(ts, bytes), n) < 0.3);
  CHECK(bytes_per_sample(round_trip(ts, walk), n) < 1.3);
  CHECK(bytes_per_sample(round_trip(ts, counter), n) < 1.0);
  // The same walk as doubles no decimal can express costs more: XOR.
  std::vector<double> thirds(n);
  for (size_t i = 0; i < n; ++i) thirds[i] = walk[i] / 3;
  CHECK(bytes_per_sample(round_trip(ts, thirds), n) > 3);
}

TEST_CASE("the encoder refuses what is not a chunk") {
  CHECK_THROWS_AS(chunk::encode(std::vector<int64_t>{1, 2}, std::vector<double>{1}), std::invalid_argument);
  CHECK_THROWS_AS(chunk::encode(std::vector<int64_t>{2, 2}, std::vector<double>{1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(chunk::encode(std::vector<int64_t>{3, 2}, std::vector<double>{1, 1}), std::invalid_argument);
}

TEST_CASE("the decoder refuses truncated, corrupt and newer blobs with a reason") {
  chunk::Samples out;
  std::string error;
  CHECK_FALSE(chunk::decode("", out, error));
  CHECK(error.find("corrupt chunk") == 0);
  std::string newer = chunk::encode(steady(3), std::vector<double>{1, 2, 3});
  newer[0] = static_cast<char>(chunk::kFormatVersion + 1);
  CHECK_FALSE(chunk::decode(newer, out, error));
  CHECK(error.find("chunk format 2, this build reads 1") != std::string::npos);

  // Every prefix of every form, and every single-byte corruption: refused or
  // decoded, never read past the end (the sanitizer run checks that), and a
  // decoded one keeps strictly increasing timestamps.
  std::mt19937_64 rng(5);
  std::vector<double> xor_values(50), decimals(50);
  for (size_t i = 0; i < 50; ++i) {
    xor_values[i] = std::bit_cast<double>(rng());
    decimals[i] = static_cast<double>(rng() % 10000) / 100;
  }
  for (const auto &values : {xor_values, decimals}) {
    for (bool compressible : {false, true}) {
      auto ts = compressible ? steady(50) : std::vector<int64_t>{};
      if (!compressible)
        for (int64_t t = 0; ts.size() < 50;) ts.push_back(t += 1 + static_cast<int64_t>(rng() % kSecond));
      const std::string blob = chunk::encode(ts, values);
      for (size_t len = 0; len < blob.size(); ++len) CHECK_FALSE(chunk::decode(blob.substr(0, len), out, error));
      for (size_t i = 0; i < blob.size(); ++i) {
        std::string bad = blob;
        bad[i] = static_cast<char>(bad[i] ^ (1 << (rng() % 8)));
        if (chunk::decode(bad, out, error))
          for (size_t k = 1; k < out.ts.size(); ++k) CHECK(out.ts[k] > out.ts[k - 1]);
      }
      std::string longer = blob + "x";
      CHECK_FALSE(chunk::decode(longer, out, error));
    }
  }
}
