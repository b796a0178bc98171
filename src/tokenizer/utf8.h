#pragma once
// Strict UTF-8 (RFC 3629) helpers shared by the encoder (which must reject bad
// input with a byte offset) and the decoders (which must never emit a broken
// sequence). "Strict" means: no overlong forms, no surrogates, nothing above
// U+10FFFF -- the same set of sequences libsentencepiece accepts.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tern::utf8 {

// U+FFFD, what decoders emit in place of each byte that cannot be decoded.
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the complete, valid sequence that starts at s[pos], or 0 when the
// bytes there are not one (truncated, stray continuation byte, overlong...).
std::size_t valid_sequence_length(std::string_view s, std::size_t pos);

// True when `s` (1..3 bytes) could still become a valid sequence if more bytes
// arrive, i.e. it is a proper prefix of some valid sequence.
bool is_incomplete_prefix(std::string_view s);

// Offset of the first byte that does not begin a valid sequence, if any.
std::optional<std::size_t> first_invalid_offset(std::string_view s);

}  // namespace tern::utf8
