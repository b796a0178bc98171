#pragma once
// The element type of a KV cache. F32 keeps keys and values exactly as computed; F16
// (llama.cpp's default cache type) rounds them to IEEE half, which halves the memory
// and the bytes attention reads per position: what batches of long sequences spend
// most on.
#include <cstdint>
#include <optional>
#include <string_view>

namespace tern {

enum class KvType : uint8_t { F32, F16 };

inline int64_t kv_type_bytes(KvType t) { return t == KvType::F16 ? 2 : 4; }
inline const char* kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }
inline std::optional<KvType> parse_kv_type(std::string_view name) {
  if (name == "f32") return KvType::F32;
  if (name == "f16") return KvType::F16;
  return std::nullopt;
}

}  // namespace tern
