#include "io/json_number.h"

#include <cmath>
#include <limits>

#include "tern/error.h"

namespace tern {
namespace {

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

// A float that holds an integer, or nullopt (NaN, Inf, fractional).
bool is_integral(double d) { return std::isfinite(d) && std::trunc(d) == d; }

// What an error shows of the value: the number, or the JSON type (a string may be megabytes).
std::string shown(const nlohmann::json& v) { return v.is_number() ? v.dump() : std::string("a ") + v.type_name(); }

}  // namespace

std::optional<int64_t> exact_integer(const nlohmann::json& v, int64_t min, int64_t max) {
  int64_t value = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    value = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    value = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    // [-2^63, 2^63) is exactly the doubles that convert to int64 without undefined behaviour.
    if (!is_integral(d) || d < -kTwoTo63 || d >= kTwoTo63) return std::nullopt;
    value = static_cast<int64_t>(d);
  } else {
    return std::nullopt;
  }
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<uint64_t> exact_unsigned(const nlohmann::json& v, uint64_t max) {
  uint64_t value = 0;
  if (v.is_number_unsigned()) {
    value = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    return std::nullopt;  // negative
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!is_integral(d) || d < 0 || d >= kTwoTo64) return std::nullopt;
    value = static_cast<uint64_t>(d);
  } else {
    return std::nullopt;
  }
  if (value > max) return std::nullopt;
  return value;
}

int64_t require_integer(const nlohmann::json& v, int64_t min, int64_t max, const std::string& what) {
  if (const auto value = exact_integer(v, min, max)) return *value;
  fail("{} is {}, expected an integer in [{}, {}]", what, shown(v), min, max);
}

uint64_t require_unsigned(const nlohmann::json& v, uint64_t max, const std::string& what) {
  if (const auto value = exact_unsigned(v, max)) return *value;
  fail("{} is {}, expected an integer in [0, {}]", what, shown(v), max);
}

float require_float(const nlohmann::json& v, const std::string& what) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) <= std::numeric_limits<float>::max()) return static_cast<float>(d);
  }
  fail("{} is {}, expected a finite number", what, shown(v));
}

}  // namespace tern
