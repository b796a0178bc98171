#pragma once
// Reads .safetensors files (Hugging Face): an 8-byte header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the data. Validated like GGUF.
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "io/mapped_file.h"

namespace tern {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;            // "F32", "F16", "BF16", ...
  std::vector<uint64_t> shape;  // outermost first (torch order)
  std::span<const uint8_t> data;
  uint64_t n_elements() const;
  // The values as f32 (F32, F16, BF16); throws naming the file and tensor otherwise.
  std::vector<float> to_floats(const std::string& file) const;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);
  const std::string& name() const { return name_; }
  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(const std::string& tensor) const;

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)), name_(file_.path().string()) {}
  MappedFile file_;
  std::string name_;
  std::map<std::string, SafetensorsTensor> tensors_;
};

}  // namespace tern
