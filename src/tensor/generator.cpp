#include "nabla/tensor/generator.h"

#include <cmath>
#include <sstream>

#include "nabla/tensor/error.h"

namespace nabla {

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * M_PI * u2);
}

int64_t Generator::randint(int64_t low, int64_t high) {
  NABLA_CHECK(high > low, "randint: empty range [{}, {})", low, high);
  std::uniform_int_distribution<int64_t> d(low, high - 1);
  return d(engine_);
}

std::string Generator::state() const {
  std::ostringstream os;
  os << seed_ << ' ' << has_spare_ << ' ' << fmt::format("{:a}", spare_) << ' ' << engine_;
  return os.str();
}

void Generator::set_state(const std::string& s) {
  std::istringstream is(s);
  std::string spare;
  is >> seed_ >> has_spare_ >> spare >> engine_;
  NABLA_CHECK(!is.fail(), "Generator::set_state: malformed state string");
  spare_ = std::strtod(spare.c_str(), nullptr);
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace nabla
