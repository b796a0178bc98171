#include "tokenizer/byte_level.h"

namespace tern::byte_level {
namespace {

bool stands_for_itself(uint32_t b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

void append_utf8(std::string& out, uint32_t cp) {  // cp < 0x800 here
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

struct Tables {
  std::array<std::string, 256> chars;  // byte -> UTF-8 of its character
  std::array<int16_t, 0x200> bytes;    // code point -> byte, -1 if unmapped (all mapped points are < U+0200)
  Tables() {
    bytes.fill(-1);
    uint32_t next = 0x100;
    for (uint32_t b = 0; b < 256; ++b) {
      const uint32_t cp = stands_for_itself(b) ? b : next++;
      append_utf8(chars[b], cp);
      bytes[cp] = static_cast<int16_t>(b);
    }
  }
};

// Immutable after construction (thread-safe static initialization).
const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::string_view character(uint8_t b) { return tables().chars[b]; }

void encode(std::string_view bytes, std::string& out) {
  const Tables& t = tables();
  for (const char c : bytes) out += t.chars[static_cast<uint8_t>(c)];
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  encode(bytes, out);
  return out;
}

std::optional<std::string> decode(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<uint8_t>(text[i]);
    uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size()) {
      cp = (static_cast<uint32_t>(c & 0x1F) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3F);
      i += 2;
    } else {
      return std::nullopt;  // 3- and 4-byte characters are never mapped bytes
    }
    if (cp >= t.bytes.size() || t.bytes[cp] < 0) return std::nullopt;
    out += static_cast<char>(t.bytes[cp]);
  }
  return out;
}

}  // namespace tern::byte_level
