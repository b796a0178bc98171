#pragma once
// Reads and validates a GGUF v3 file (docs/FORMAT.md, section 1). Everything is checked
// before use; the tensor data stays in the read-only map and is handed out as spans.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/gguf_value.h"
#include "io/mapped_file.h"
#include "io/tensor_type.h"

namespace tern {

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<uint64_t> ne;  // ne[0] innermost
  uint64_t offset = 0;       // from the start of the data section
  uint64_t n_bytes = 0;
  std::span<const uint8_t> data;

  uint64_t n_elements() const;
  uint64_t n_in() const { return ne[0]; }  // row length
  uint64_t n_rows() const { return n_elements() / ne[0]; }
  std::string shape_string() const;  // "[576, 1536]"
};

class GgufFile {
 public:
  // Maps and validates the whole file. Throws tern::Error naming the file and the key
  // or tensor at fault, with expected vs found.
  static GgufFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  std::string name() const { return file_.path().string(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return file_.bytes().size(); }
  const MappedFile& mapped() const { return file_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters: the required forms throw if the key is missing or has another
  // type; the optional forms return the fallback when missing.
  uint64_t get_uint(const std::string& key) const;  // any unsigned/signed integer >= 0
  uint64_t get_uint(const std::string& key, uint64_t fallback) const;
  float get_f32(const std::string& key) const;  // f32 or f64
  float get_f32(const std::string& key, float fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<float> get_f32_array(const std::string& key) const;
  std::vector<int32_t> get_i32_array(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  // Frees the values of array keys whose name starts with `prefix` (they read as empty
  // arrays afterwards): a 32000-token vocabulary held as metadata costs megabytes once
  // the tokenizer has its own copy.
  void drop_array_values(const std::string& prefix);
  const GgufTensorInfo* find_tensor(const std::string& name) const;

 private:
  explicit GgufFile(MappedFile file) : file_(std::move(file)) {}
  void parse();
  const GgufValue& require(const std::string& key) const;

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace tern
