#pragma once
// Shared by the libFuzzer targets (one per input kind tern reads; scripts/fuzz.sh).
// tern's readers take paths (they map files), so a target writes its input into a
// per-process scratch folder first. tern::Error is the expected way to refuse input;
// anything else escaping (a crash, a sanitizer report, another exception type, an
// allocation over libFuzzer's -rss_limit_mb) is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace tern::fuzz {

// Warnings (e.g. "skipping tensor") would flood the fuzzer's output; errors are thrown.
inline const bool kQuiet = (spdlog::set_level(spdlog::level::off), true);

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    auto d = std::filesystem::path(base ? base : "/tmp") / ("tern-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write_file(const std::string& name, std::string_view bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// RFC 3629 UTF-8, written independently of src/tokenizer/utf8.cpp so the check does not
// share the decoder's mistakes.
inline bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) n = 1, cp = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF) n = 2, cp = b & 0x0F;
    else if (b >= 0xF0 && b <= 0xF4) n = 3, cp = b & 0x07;
    else return false;
    if (i + n >= s.size()) return false;  // continuation bytes missing
    for (size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// Splits "a@@@@b@@@@c" into parts (the HF folder target's files); missing parts are empty.
inline std::string_view part(std::string_view all, int index, std::string_view separator = "@@@@") {
  for (int i = 0; i < index; ++i) {
    const auto at = all.find(separator);
    if (at == std::string_view::npos) return {};
    all.remove_prefix(at + separator.size());
  }
  return all.substr(0, all.find(separator));
}

}  // namespace tern::fuzz
