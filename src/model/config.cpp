#include "model/config.h"

#include "model/limits.h"
#include "tern/error.h"

namespace tern {
namespace {

// bitnet.cpp's architectures (microsoft/BitNet's llama.cpp fork): "bitnet" runs a SwiGLU
// FFN, "bitnet-b1.58" and "bitnet-25" (BitNet b1.58 2B4T) a squared-ReLU one; all three
// have the attention / FFN sub-norms and llama's key names.
bool is_bitnet_cpp_architecture(const std::string& arch) {
  return arch == "bitnet" || arch == "bitnet-b1.58" || arch == "bitnet-25";
}

bool is_supported_architecture(const std::string& arch) {
  return arch == "mobilellm" || arch == "llama" || is_bitnet_cpp_architecture(arch);
}

// Reads a positive count that must fit comfortably in memory-sized arithmetic.
int64_t positive(const GgufFile& f, const std::string& key, uint64_t value) {
  if (value == 0 || value > (uint64_t{1} << 24)) fail("{}: key '{}' is {}, expected 1..16777216", f.name(), key, value);
  return static_cast<int64_t>(value);
}

int64_t required_count(const GgufFile& f, const std::string& key) { return positive(f, key, f.get_uint(key)); }

FfnActivation read_activation(const GgufFile& f, const std::string& key) {
  const auto name = f.get_string(key, "silu");
  if (name == "silu") return FfnActivation::Silu;
  if (name == "relu2") return FfnActivation::Relu2;
  fail("{}: key '{}' is '{}', expected 'silu' or 'relu2'", f.name(), key, name);
}

}  // namespace

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  c.architecture = f.get_string("general.architecture");
  if (!is_supported_architecture(c.architecture))
    fail(
        "{}: architecture '{}' is not supported (expected 'mobilellm', 'llama', 'bitnet', 'bitnet-b1.58' or "
        "'bitnet-25')",
        f.name(), c.architecture);
  const std::string a = c.architecture + ".";
  c.name = f.get_string("general.name", "");
  c.source_format = f.get_string("tern.source_format", "");
  c.context_length = required_count(f, a + "context_length");
  c.dim = required_count(f, a + "embedding_length");
  c.ffn = required_count(f, a + "feed_forward_length");
  c.n_blocks = required_count(f, a + "block_count");
  c.n_heads = required_count(f, a + "attention.head_count");
  c.n_kv_heads = positive(f, a + "attention.head_count_kv", f.get_uint(a + "attention.head_count_kv", c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    fail("{}: key '{}attention.head_count_kv' is {}, which does not divide key '{}attention.head_count' = {}", f.name(),
         a, c.n_kv_heads, a, c.n_heads);
  if (!f.has(a + "attention.key_length") && c.dim % c.n_heads != 0)
    fail("{}: embedding_length {} is not a multiple of head_count {} and no key_length is given", f.name(), c.dim,
         c.n_heads);
  c.head_dim = positive(f, a + "attention.key_length", f.get_uint(a + "attention.key_length", c.dim / c.n_heads));
  if (c.head_dim % 2 != 0) fail("{}: head dimension {} must be even for RoPE", f.name(), c.head_dim);
  const auto rope_dims = f.get_uint(a + "rope.dimension_count", c.head_dim);
  if (rope_dims != static_cast<uint64_t>(c.head_dim))
    fail("{}: key '{}rope.dimension_count' is {}, expected the head dimension {} (partial RoPE is not supported)",
         f.name(), a, rope_dims, c.head_dim);
  c.rms_eps = f.get_f32(a + "attention.layer_norm_rms_epsilon");
  if (!(c.rms_eps >= 0 && c.rms_eps < 1))
    fail("{}: key '{}attention.layer_norm_rms_epsilon' is {}, expected in [0, 1)", f.name(), a, c.rms_eps);
  c.rope_base = f.get_f32(a + "rope.freq_base", 10000.0f);
  if (!(c.rope_base > 1)) fail("{}: key '{}rope.freq_base' is {}, expected > 1", f.name(), a, c.rope_base);
  if (c.architecture == "bitnet-b1.58" || c.architecture == "bitnet-25") c.activation = FfnActivation::Relu2;
  if (c.architecture == "mobilellm") {
    c.block_repeat = positive(f, "mobilellm.block_repeat", f.get_uint("mobilellm.block_repeat", 1));
    c.activation = read_activation(f, "mobilellm.ffn_activation");
    c.linear_norm = f.get_bool("mobilellm.linear_norm", false);
    c.linear_norm_eps = f.get_f32("mobilellm.linear_norm_epsilon", 0.0f);
  }
  check_layer_limits(c, f.name(), "mobilellm.block_repeat");
  return c;
}

}  // namespace tern
