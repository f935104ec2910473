#pragma once
// Seedable random number generation, so runs are reproducible.
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace nabla {

/// A random engine (64-bit Mersenne Twister). Factories take one, or use the
/// global default that manual_seed() resets. The factories (rand, randn,
/// randint) hold its mutex while they draw a tensor, so threads sharing one
/// generator (the default, typically) each get whole, uninterleaved draws;
/// direct calls to uniform()/normal() are the caller's to serialize.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed), seed_(seed) {}
  Generator(const Generator& o) : engine_(o.engine_), seed_(o.seed_), has_spare_(o.has_spare_), spare_(o.spare_) {}
  Generator& operator=(const Generator& o) {
    engine_ = o.engine_;
    seed_ = o.seed_;
    has_spare_ = o.has_spare_;
    spare_ = o.spare_;
    return *this;
  }
  /// Held by the factories while they draw.
  std::mutex& mutex() const { return mu_; }
  void manual_seed(uint64_t seed) {
    engine_.seed(seed);
    seed_ = seed;
    has_spare_ = false;  // a normal left over from before the seed must not leak into the new stream
  }
  uint64_t initial_seed() const { return seed_; }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Standard normal (Box-Muller; the spare value is kept for the next call).
  double normal();
  /// Uniform integer in [low, high).
  int64_t randint(int64_t low, int64_t high);
  std::mt19937_64& engine() { return engine_; }
  /// The full engine state as text, for checkpoints.
  std::string state() const;
  void set_state(const std::string& s);

 private:
  std::mt19937_64 engine_;
  uint64_t seed_;
  bool has_spare_ = false;
  double spare_ = 0.0;
  mutable std::mutex mu_;
};

/// The process-wide generator used when none is passed.
Generator& default_generator();

/// Seeds the default generator (like torch::manual_seed).
void manual_seed(uint64_t seed);

}  // namespace nabla
