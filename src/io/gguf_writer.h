#pragma once
// Writes GGUF v3 files: metadata in insertion order, tensors aligned. The output goes
// through an AtomicFile (io/atomic_file.h), so a failed or interrupted write never
// leaves a half-written model, or a temporary file, behind.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "io/gguf_value.h"
#include "io/tensor_type.h"

namespace tern {

class GgufWriter {
 public:
  void set(const std::string& key, GgufValue value);  // replaces an existing key
  // ne[0] innermost; data must have exactly tensor_bytes(type, ne[0], rows) bytes.
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne, std::vector<uint8_t> data);
  void write(const std::filesystem::path& path) const;
  // The same bytes to a stream (e.g. an in-memory file), without the rename.
  void write_to(std::ostream& out) const;
  // Total bytes write() would produce.
  uint64_t file_size() const;

 private:
  std::vector<uint8_t> header_bytes() const;  // header + tensor infos, padded to the alignment
  void write_with(const std::function<void(const char*, size_t)>& sink) const;  // the file's bytes, in order

  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> ne;
    std::vector<uint8_t> data;
  };
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace tern
