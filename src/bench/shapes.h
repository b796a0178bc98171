#pragma once
// Model shapes for benchmarks, and models of those shapes with random weights built in
// memory (no file on disk): what `tern bench --shape` runs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/tensor_type.h"

namespace tern {

struct ModelShape {
  std::string name;
  int64_t layers, dim, heads, kv_heads, ffn, vocab, context;
};

const std::vector<ModelShape>& known_shapes();
std::optional<ModelShape> find_shape(const std::string& name);
std::string known_shape_names();

struct SyntheticOptions {
  TensorType linear_type = TensorType::TERN2;     // a ternary type, or F16/Q8_0 for baselines
  TensorType embedding_type = TensorType::Q8_0;   // tied embedding / LM head
  uint64_t seed = 1;
};

// An anonymous in-memory file (memfd); path() names it for Model::load.
class InMemoryFile {
 public:
  explicit InMemoryFile(const std::string& name);
  ~InMemoryFile();
  InMemoryFile(InMemoryFile&& other) noexcept;
  InMemoryFile(const InMemoryFile&) = delete;
  InMemoryFile& operator=(const InMemoryFile&) = delete;
  std::string path() const;

 private:
  int fd_ = -1;
};

// Writes a mobilellm GGUF of the given shape with random weights into memory.
InMemoryFile build_synthetic_model(const ModelShape& shape, const SyntheticOptions& options);

}  // namespace tern
