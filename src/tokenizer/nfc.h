#pragma once
// Unicode NFC (canonical composition), the normalizer of Qwen2's tokenizer.
#include <string>
#include <string_view>

namespace tern {

// NFC of valid UTF-8 text, through libutf8proc. Throws tern::Error if the library fails.
std::string nfc(std::string_view text);

}  // namespace tern
