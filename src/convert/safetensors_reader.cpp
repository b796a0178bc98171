#include "convert/safetensors_reader.h"

#include <cstring>

#include <nlohmann/json.hpp>

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
    std::memcpy(out.data(), p, out.size() * 4);
  } else if (dtype == "F16" || dtype == "BF16") {
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = dtype == "F16" ? f16_to_f32(h) : bf16_to_f32(h);
    }
  } else {
    fail("{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", file, name, dtype);
  }
  return out;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile f{MappedFile(path)};
  const auto bytes = f.file_.bytes();
  if (bytes.size() < 8) fail("{}: too small for a safetensors file ({} bytes)", f.name_, bytes.size());
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > bytes.size() - 8) fail("{}: header length {} exceeds the file ({} bytes)", f.name_, header_len, bytes.size());
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
    try {
      t.dtype = info.at("dtype").get<std::string>();
      t.shape = info.at("shape").get<std::vector<uint64_t>>();
      const auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        fail("{}: tensor '{}' has data offsets outside the file's {} data bytes", f.name_, name, data_size);
      const uint64_t element_bytes = dtype_bytes(t.dtype);
      if (element_bytes == 0) fail("{}: tensor '{}' has unknown dtype '{}'", f.name_, name, t.dtype);
      if (offsets[1] - offsets[0] != t.n_elements() * element_bytes)
        fail("{}: tensor '{}' has {} bytes, expected {} for {} {}", f.name_, name, offsets[1] - offsets[0],
             t.n_elements() * element_bytes, t.n_elements(), t.dtype);
      t.data = bytes.subspan(data_start + offsets[0], offsets[1] - offsets[0]);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: tensor '{}' has a malformed entry: {}", f.name_, name, e.what());
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
