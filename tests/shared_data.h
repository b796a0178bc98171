#pragma once
// Locates the read-only test data in ../shared (beside the project root).
// A plain clone without it skips those tests with a message; under CI=true its
// absence is a failure, so CI can never silently skip them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tern::testing {

inline std::filesystem::path shared_dir() { return std::filesystem::path(TERN_SOURCE_DIR).parent_path() / "shared"; }

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace tern::testing

// Declares `var` as the path of shared/<relative>, or skips (fails in CI) the test.
#define TERN_REQUIRE_SHARED(var, relative)                                         \
  const std::filesystem::path var = ::tern::testing::shared_dir() / (relative);    \
  if (!std::filesystem::exists(var)) {                                             \
    if (::tern::testing::running_in_ci()) FAIL() << "CI=true but missing " << var; \
    GTEST_SKIP() << "shared test data not found: " << var;                         \
  }
