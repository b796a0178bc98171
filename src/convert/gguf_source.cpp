#include "convert/gguf_source.h"

#include "io/gguf_reader.h"
#include "kernels/dequantize.h"
#include "model/config.h"
#include "model/weights.h"

#include <spdlog/spdlog.h>
#include "tokenizer/gguf_vocab.h"

namespace tern {
namespace {

// TQ blocks whose scales agree along each row are one scale per row (TERN2R), so a
// per-row model that went out as TQ2_0 (`--to llama`) comes back as it was.
TernaryWeights coarsest_scales(TernaryWeights w) {
  if (w.group == w.n_in) return w;
  const int64_t groups = w.groups_per_row();
  std::vector<float> per_row(static_cast<size_t>(w.n_rows));
  for (int64_t r = 0; r < w.n_rows; ++r) {
    per_row[r] = w.scales[r * groups];
    for (int64_t g = 1; g < groups; ++g)
      if (w.scales[r * groups + g] != per_row[r]) return w;
  }
  w.group = w.n_in;
  w.scales = std::move(per_row);
  return w;
}

}  // namespace

ModelDraft read_gguf_model(const std::filesystem::path& path) {
  const GgufFile file = GgufFile::open(path);
  ModelDraft d;
  d.source = path.string();
  d.config = read_model_config(file);
  const std::string source_architecture = d.config.architecture;
  d.config.architecture = "mobilellm";
  d.vocab = read_gguf_vocab(file);
  d.config.n_vocab = d.vocab.size();
  for (const auto& t : file.tensors()) {
    if (!is_model_tensor_name(t.name)) {
      spdlog::warn("{}: skipping tensor '{}' (not part of the model)", d.source, t.name);
      continue;
    }
    DraftTensor out;
    out.name = t.name;
    out.ne = t.ne;
    const auto n_in = static_cast<int64_t>(t.n_in());
    const auto rows = static_cast<int64_t>(t.n_rows());
    if (traits(t.type).ternary) {
      out.ternary = coarsest_scales(decode_ternary(t.type, t.data, n_in, rows, t.name));
    } else {
      out.values.resize(static_cast<size_t>(n_in * rows));
      const uint64_t stride = row_bytes(t.type, t.n_in());
      for (int64_t r = 0; r < rows; ++r)
        dequantize_row(t.type, t.data.data() + r * stride, out.values.data() + r * n_in, n_in);
    }
    if (t.type == TensorType::I2_S && d.config.source_format.empty())
      d.config.source_format = "bitnet.cpp GGUF, I2_S (architecture " + source_architecture + ")";
    d.tensors.push_back(std::move(out));
  }
  return d;
}

}  // namespace tern
