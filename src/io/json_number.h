#pragma once
// Numbers from untrusted JSON (config.json, tokenizer.json, batch requests). nlohmann
// converts a double to an integer with a plain cast, which is undefined when the value
// is out of range (1e20 -> int). These read a number only when it is exactly an integer
// in range (2 and 2.0 are, 2.5 and 1e20 for an int32 are not), or a finite float.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tern {

// The value as an integer in [min, max], or nullopt (not a number, not integral, out of range).
std::optional<int64_t> exact_integer(const nlohmann::json& v, int64_t min, int64_t max);
std::optional<uint64_t> exact_unsigned(const nlohmann::json& v, uint64_t max);

// The same, throwing tern::Error "WHAT is FOUND, expected an integer in [MIN, MAX]".
int64_t require_integer(const nlohmann::json& v, int64_t min, int64_t max, const std::string& what);
uint64_t require_unsigned(const nlohmann::json& v, uint64_t max, const std::string& what);
// A finite number that fits a float; throws otherwise.
float require_float(const nlohmann::json& v, const std::string& what);

}  // namespace tern
