#pragma once
// GPT-2's reversible byte <-> character mapping, which byte-level BPE uses so
// that every piece is printable text: bytes that are printable Latin-1
// characters stand for themselves, the other 68 (controls, space, ...) take
// the code points U+0100 upwards in byte order (so a space is 'Ġ', U+0120).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern::byte_level {

// Appends the mapped characters of `bytes` (each byte one character, UTF-8 encoded).
void encode(std::string_view bytes, std::string& out);
std::string encode(std::string_view bytes);

// The bytes `text` stands for, or nullopt when a character is not one of the
// 256 mapped characters (e.g. an added token's raw text).
std::optional<std::string> decode(std::string_view text);

// The UTF-8 form of byte b's character.
std::string_view character(uint8_t b);

}  // namespace tern::byte_level
