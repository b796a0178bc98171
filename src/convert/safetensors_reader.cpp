#include "convert/safetensors_reader.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "io/json_number.h"
#include "kernels/float16.h"
#include "tern/error.h"

namespace tern {
namespace {

uint64_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

// A list of non-negative integers ("shape", "data_offsets"); floats such as 1e20 and
// negative numbers are refused rather than cast.
std::vector<uint64_t> unsigned_list(const nlohmann::json& v, const std::string& what) {
  if (!v.is_array()) fail("{} is not an array", what);
  std::vector<uint64_t> out;
  for (const auto& item : v) out.push_back(require_unsigned(item, std::numeric_limits<uint64_t>::max(), what));
  return out;
}

// shape's element count times the dtype size, or nullopt when that overflows 64 bits.
std::optional<uint64_t> byte_count(const std::vector<uint64_t>& shape, uint64_t element_bytes) {
  uint64_t n = element_bytes;
  for (auto d : shape) {
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

}  // namespace

uint64_t SafetensorsTensor::n_elements() const {
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<float> SafetensorsTensor::to_floats(const std::string& file) const {
  std::vector<float> out(static_cast<size_t>(n_elements()));
  const uint8_t* p = data.data();
  if (dtype == "F32") {
    if (!out.empty()) std::memcpy(out.data(), p, out.size() * 4);  // an empty tensor's data may be null
  } else if (dtype == "F16" || dtype == "BF16") {
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = dtype == "F16" ? f16_to_f32(h) : bf16_to_f32(h);
    }
  } else {
    fail("{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", file, name, dtype);
  }
  // A NaN or Inf weight would turn into garbage (or undefined casts) when ternarized.
  for (size_t i = 0; i < out.size(); ++i)
    if (!std::isfinite(out[i])) fail("{}: tensor '{}' holds {} at element {}", file, name, out[i], i);
  return out;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile f{MappedFile(path)};
  const auto bytes = f.file_.bytes();
  if (bytes.size() < 8) fail("{}: too small for a safetensors file ({} bytes)", f.name_, bytes.size());
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > bytes.size() - 8)
    fail("{}: header length {} exceeds the file ({} bytes)", f.name_, header_len, bytes.size());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: header is not valid JSON: {}", f.name_, e.what());
  }
  if (!header.is_object()) fail("{}: header is not a JSON object", f.name_);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_start;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    SafetensorsTensor t;
    t.name = name;
    const std::string what = fmt::format("{}: tensor '{}'", f.name_, name);
    try {
      t.dtype = info.at("dtype").get<std::string>();
      t.shape = unsigned_list(info.at("shape"), what + " shape");
      const auto offsets = unsigned_list(info.at("data_offsets"), what + " data_offsets");
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        fail("{} has data offsets outside the file's {} data bytes", what, data_size);
      const uint64_t element_bytes = dtype_bytes(t.dtype);
      if (element_bytes == 0) fail("{} has unknown dtype '{}'", what, t.dtype);
      const auto expected = byte_count(t.shape, element_bytes);
      if (!expected) fail("{}: shape {} of {} overflows 64 bits", what, info.at("shape").dump(), t.dtype);
      if (offsets[1] - offsets[0] != *expected)
        fail("{} has {} bytes, expected {} for {} {}", what, offsets[1] - offsets[0], *expected, t.n_elements(),
             t.dtype);
      t.data = bytes.subspan(data_start + offsets[0], offsets[1] - offsets[0]);
    } catch (const nlohmann::json::exception& e) {
      fail("{} has a malformed entry: {}", what, e.what());
    }
    f.tensors_.emplace(name, std::move(t));
  }
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& tensor) const {
  auto it = tensors_.find(tensor);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace tern
