#include "tokenizer/utf8.h"

#include <cstdint>

namespace tern::utf8 {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// For a lead byte: total sequence length and the allowed range of the second
// byte (the range is what excludes overlongs, surrogates and > U+10FFFF).
struct LeadInfo {
  std::size_t length;  // 0: not a lead byte
  unsigned char second_lo, second_hi;
};

LeadInfo lead_info(unsigned char c) {
  if (c < 0x80) return {1, 0, 0};
  if (c >= 0xC2 && c <= 0xDF) return {2, 0x80, 0xBF};
  if (c == 0xE0) return {3, 0xA0, 0xBF};
  if (c == 0xED) return {3, 0x80, 0x9F};
  if (c >= 0xE1 && c <= 0xEF) return {3, 0x80, 0xBF};
  if (c == 0xF0) return {4, 0x90, 0xBF};
  if (c >= 0xF1 && c <= 0xF3) return {4, 0x80, 0xBF};
  if (c == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Number of leading bytes of s (capped at the sequence length) that are
// consistent with a valid sequence; `length` receives the expected length.
std::size_t consistent_prefix(std::string_view s, std::size_t& length) {
  const LeadInfo info = lead_info(static_cast<unsigned char>(s[0]));
  length = info.length;
  if (info.length <= 1) return info.length;
  std::size_t n = 1;
  while (n < info.length && n < s.size()) {
    const auto c = static_cast<unsigned char>(s[n]);
    const bool ok = n == 1 ? (c >= info.second_lo && c <= info.second_hi) : is_continuation(c);
    if (!ok) break;
    ++n;
  }
  return n;
}

}  // namespace

std::size_t valid_sequence_length(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return 0;
  std::size_t length = 0;
  const std::size_t n = consistent_prefix(s.substr(pos), length);
  return (length != 0 && n == length) ? length : 0;
}

bool is_incomplete_prefix(std::string_view s) {
  if (s.empty()) return false;
  std::size_t length = 0;
  const std::size_t n = consistent_prefix(s, length);
  return length > 1 && n == s.size() && n < length;
}

std::optional<std::size_t> first_invalid_offset(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {  // ASCII fast path
      ++pos;
      continue;
    }
    const std::size_t n = valid_sequence_length(s, pos);
    if (n == 0) return pos;
    pos += n;
  }
  return std::nullopt;
}

}  // namespace tern::utf8
