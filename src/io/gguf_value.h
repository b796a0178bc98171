#pragma once
// A GGUF metadata value: its wire type plus the value widened to one of a few C++
// types (all unsigned integers as u64, signed as i64, floats as f64). Arrays hold
// values of one element type.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tern {

enum class GgufValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

std::string_view gguf_value_type_name(GgufValueType type);
bool is_valid_gguf_value_type(uint32_t type);

struct GgufValue;
using GgufArray = std::vector<GgufValue>;

struct GgufValue {
  GgufValueType type = GgufValueType::U32;
  GgufValueType element_type = GgufValueType::U32;  // arrays only
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;

  static GgufValue u32(uint32_t v) { return {GgufValueType::U32, GgufValueType::U32, uint64_t{v}}; }
  static GgufValue i32(int32_t v) { return {GgufValueType::I32, GgufValueType::U32, int64_t{v}}; }
  static GgufValue u64(uint64_t v) { return {GgufValueType::U64, GgufValueType::U32, v}; }
  static GgufValue f32(float v) { return {GgufValueType::F32, GgufValueType::U32, double{v}}; }
  static GgufValue boolean(bool v) { return {GgufValueType::BOOL, GgufValueType::U32, v}; }
  static GgufValue string(std::string v) { return {GgufValueType::STRING, GgufValueType::U32, std::move(v)}; }
  static GgufValue array(GgufValueType element_type, GgufArray items) {
    return {GgufValueType::ARRAY, element_type, std::move(items)};
  }
  static GgufValue string_array(const std::vector<std::string>& items);
  static GgufValue f32_array(const std::vector<float>& items);
  static GgufValue i32_array(const std::vector<int32_t>& items);
};

}  // namespace tern
