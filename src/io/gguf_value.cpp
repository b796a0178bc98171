#include "io/gguf_value.h"

#include <array>

namespace tern {

std::string_view gguf_value_type_name(GgufValueType type) {
  static constexpr std::array<std::string_view, 13> kNames = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                              "bool", "string", "array", "u64", "i64", "f64"};
  const auto index = static_cast<uint32_t>(type);
  return index < kNames.size() ? kNames[index] : "invalid";
}

bool is_valid_gguf_value_type(uint32_t type) { return type <= static_cast<uint32_t>(GgufValueType::F64); }

GgufValue GgufValue::string_array(const std::vector<std::string>& items) {
  GgufArray values;
  values.reserve(items.size());
  for (const auto& s : items) values.push_back(string(s));
  return array(GgufValueType::STRING, std::move(values));
}

GgufValue GgufValue::f32_array(const std::vector<float>& items) {
  GgufArray values;
  values.reserve(items.size());
  for (float v : items) values.push_back(f32(v));
  return array(GgufValueType::F32, std::move(values));
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& items) {
  GgufArray values;
  values.reserve(items.size());
  for (int32_t v : items) values.push_back(i32(v));
  return array(GgufValueType::I32, std::move(values));
}

}  // namespace tern
