#pragma once
// One exception type for everything that can go wrong with user input: a file, a
// flag, a prompt. Messages are single lines that name the thing (file, key, tensor)
// and say what was expected and what was found.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tern {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Formats and throws in one call: fail("{}: tensor '{}' has {} dims, expected 2", ...).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tern
