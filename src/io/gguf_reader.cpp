#include "io/gguf_reader.h"

#include <cstring>
#include <limits>

#include "tern/error.h"

namespace tern {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kMaxArrayDepth = 4;
constexpr uint64_t kMaxElements = uint64_t{1} << 48;
// Metadata held in memory may take at most this many bytes per byte of file, plus the
// floor (docs/FORMAT.md, "Resource limits"). Each value costs sizeof(GgufValue), about
// 48 bytes, so a u8 array would otherwise grow 48-fold. A vocabulary-only GGUF (LLaMA's
// 32000 tokens: piece, score, type, about 22 file bytes per token) takes about 7x.
constexpr uint64_t kMetadataBytesPerFileByte = 16;
constexpr uint64_t kMetadataFloorBytes = uint64_t{1} << 20;

// Bounds-checked sequential reader over the mapped bytes. Every read names what it
// reads, so a truncated file reports exactly which field is cut short.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, std::string file) : bytes_(bytes), file_(std::move(file)) {}

  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(const std::string& what) {
    const auto length = read<uint64_t>(what + " length");
    if (length > remaining())
      fail("{}: {}: string length {} exceeds the {} bytes left in the file", file_, what, length, remaining());
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return s;
  }

  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail("{}: truncated: {} needs {} bytes at offset {}, file has {} left", file_, what, n, pos_, remaining());
  }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  uint64_t position() const { return pos_; }
  const std::string& file() const { return file_; }

 private:
  std::span<const uint8_t> bytes_;
  std::string file_;
  uint64_t pos_ = 0;
};

// What parsed metadata may still take in memory; charged before each allocation.
class MetadataBudget {
 public:
  MetadataBudget(uint64_t file_size, std::string file)
      : limit_(kMetadataBytesPerFileByte * file_size + kMetadataFloorBytes), left_(limit_), file_(std::move(file)) {}
  void charge(uint64_t bytes, const std::string& key) {
    if (bytes > left_)
      fail("{}: key '{}': metadata would take more than {} bytes in memory ({} per file byte + {})", file_, key, limit_,
           kMetadataBytesPerFileByte, kMetadataFloorBytes);
    left_ -= bytes;
  }

 private:
  uint64_t limit_;
  uint64_t left_;
  std::string file_;
};

// Smallest encoding of one element of a type, used to reject absurd array counts
// before allocating anything.
uint64_t min_encoded_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::U16:
    case GgufValueType::I16: return 2;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32: return 4;
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;
  }
  return 1;
}

GgufValue read_value(Cursor& in, MetadataBudget& budget, GgufValueType type, const std::string& key, uint32_t depth);

GgufValue read_array(Cursor& in, MetadataBudget& budget, const std::string& key, uint32_t depth) {
  if (depth >= kMaxArrayDepth) fail("{}: key '{}': arrays nested deeper than {}", in.file(), key, kMaxArrayDepth);
  const auto raw_type = in.read<uint32_t>("key '" + key + "' array element type");
  if (!is_valid_gguf_value_type(raw_type))
    fail("{}: key '{}': invalid array element type {} (expected 0..12)", in.file(), key, raw_type);
  const auto element_type = static_cast<GgufValueType>(raw_type);
  const auto count = in.read<uint64_t>("key '" + key + "' array length");
  if (count > in.remaining() / min_encoded_size(element_type))
    fail("{}: key '{}': array of {} {} cannot fit in the {} bytes left", in.file(), key, count,
         gguf_value_type_name(element_type), in.remaining());
  budget.charge(count * sizeof(GgufValue), key);  // count <= the file size: no overflow
  GgufArray items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) items.push_back(read_value(in, budget, element_type, key, depth + 1));
  return GgufValue::array(element_type, std::move(items));
}

GgufValue read_value(Cursor& in, MetadataBudget& budget, GgufValueType type, const std::string& key, uint32_t depth) {
  const std::string what = "value of key '" + key + "'";
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::U8: v.value = uint64_t{in.read<uint8_t>(what)}; break;
    case GgufValueType::I8: v.value = int64_t{in.read<int8_t>(what)}; break;
    case GgufValueType::U16: v.value = uint64_t{in.read<uint16_t>(what)}; break;
    case GgufValueType::I16: v.value = int64_t{in.read<int16_t>(what)}; break;
    case GgufValueType::U32: v.value = uint64_t{in.read<uint32_t>(what)}; break;
    case GgufValueType::I32: v.value = int64_t{in.read<int32_t>(what)}; break;
    case GgufValueType::U64: v.value = in.read<uint64_t>(what); break;
    case GgufValueType::I64: v.value = in.read<int64_t>(what); break;
    case GgufValueType::F32: v.value = double{in.read<float>(what)}; break;
    case GgufValueType::F64: v.value = in.read<double>(what); break;
    case GgufValueType::BOOL: {
      const auto b = in.read<uint8_t>(what);
      if (b > 1) fail("{}: key '{}': bool value {} (expected 0 or 1)", in.file(), key, b);
      v.value = b == 1;
      break;
    }
    case GgufValueType::STRING:
      v.value = in.read_string(what);
      budget.charge(std::get<std::string>(v.value).size(), key);
      break;
    case GgufValueType::ARRAY: return read_array(in, budget, key, depth);
  }
  return v;
}

std::string type_mismatch(const std::string& file, const std::string& key, const char* expected, const GgufValue& v) {
  return fmt::format("{}: key '{}' has type {}, expected {}", file, key, gguf_value_type_name(v.type), expected);
}

}  // namespace

uint64_t GgufTensorInfo::n_elements() const {
  uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

std::string GgufTensorInfo::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile file{MappedFile(path)};
  file.parse();
  return file;
}

void GgufFile::parse() {
  Cursor in(file_.bytes(), name());
  const auto magic = in.read<uint32_t>("magic");
  if (magic != kGgufMagic)
    fail("{}: not a GGUF file (magic 0x{:08x}, expected 0x{:08x} \"GGUF\")", name(), magic, kGgufMagic);
  version_ = in.read<uint32_t>("version");
  if (version_ != 3) fail("{}: GGUF version {} is not supported (expected 3)", name(), version_);
  const auto n_tensors = in.read<uint64_t>("tensor count");
  const auto n_kv = in.read<uint64_t>("metadata count");
  // Each key/value needs at least 13 bytes and each tensor info at least 24.
  if (n_kv > in.remaining() / 13) fail("{}: metadata count {} cannot fit in a {}-byte file", name(), n_kv, file_size());
  if (n_tensors > in.remaining() / 24)
    fail("{}: tensor count {} cannot fit in a {}-byte file", name(), n_tensors, file_size());

  MetadataBudget budget(file_size(), name());
  for (uint64_t i = 0; i < n_kv; ++i) {
    auto key = in.read_string(fmt::format("key #{}", i));
    const auto raw_type = in.read<uint32_t>("type of key '" + key + "'");
    if (!is_valid_gguf_value_type(raw_type))
      fail("{}: key '{}' has invalid value type {} (expected 0..12)", name(), key, raw_type);
    budget.charge(sizeof(GgufValue) + key.size(), key);
    auto value = read_value(in, budget, static_cast<GgufValueType>(raw_type), key, 0);
    if (metadata_index_.count(key)) fail("{}: duplicate key '{}'", name(), key);
    metadata_index_[key] = metadata_.size();
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const auto* a = find("general.alignment")) {
    alignment_ = get_uint("general.alignment");
    if (a->type != GgufValueType::U32 || alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0)
      fail("{}: general.alignment must be a u32 power of two, found {}", name(), alignment_);
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = in.read_string(fmt::format("name of tensor #{}", i));
    const auto n_dims = in.read<uint32_t>("dims of tensor '" + t.name + "'");
    if (n_dims == 0 || n_dims > kMaxDims)
      fail("{}: tensor '{}' has {} dims, expected 1..{}", name(), t.name, n_dims, kMaxDims);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto dim = in.read<uint64_t>(fmt::format("ne[{}] of tensor '{}'", d, t.name));
      if (dim == 0 || dim > kMaxElements / elements)
        fail("{}: tensor '{}' has absurd dimension ne[{}] = {}", name(), t.name, d, dim);
      elements *= dim;
      t.ne.push_back(dim);
    }
    const auto raw_type = in.read<uint32_t>("type of tensor '" + t.name + "'");
    const auto type_traits = tensor_type_traits(raw_type);
    if (!type_traits)
      fail("{}: tensor '{}' has type {} which tern does not support (supported: {})", name(), t.name,
           ggml_type_name(raw_type), supported_tensor_type_names());
    t.type = type_traits->type;
    if (!row_length_fits(t.type, t.ne[0]))
      fail("{}: tensor '{}' of type {} has rows of {} weights, expected a multiple of {}", name(), t.name,
           type_traits->name, t.ne[0], type_traits->block_weights);
    t.offset = in.read<uint64_t>("offset of tensor '" + t.name + "'");
    if (t.offset % alignment_ != 0)
      fail("{}: tensor '{}' offset {} is not a multiple of the alignment {}", name(), t.name, t.offset, alignment_);
    t.n_bytes = tensor_bytes(t.type, t.ne[0], elements / t.ne[0]);
    if (tensor_index_.count(t.name)) fail("{}: duplicate tensor '{}'", name(), t.name);
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  const uint64_t data_start = (in.position() + alignment_ - 1) / alignment_ * alignment_;
  for (auto& t : tensors_) {
    const uint64_t available = file_size() > data_start ? file_size() - data_start : 0;
    if (t.offset > available || t.n_bytes > available - t.offset)
      fail("{}: tensor '{}' ({} bytes at data offset {}) lies past the end of the file ({} data bytes)", name(), t.name,
           t.n_bytes, t.offset, available);
    t.data = file_.bytes().subspan(data_start + t.offset, t.n_bytes);
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::require(const std::string& key) const {
  const auto* v = find(key);
  if (v == nullptr) fail("{}: missing required key '{}'", name(), key);
  return *v;
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const auto& v = require(key);
  if (const auto* u = std::get_if<uint64_t>(&v.value)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.value)) {
    if (*i < 0) fail("{}: key '{}' is {}, expected a non-negative integer", name(), key, *i);
    return static_cast<uint64_t>(*i);
  }
  throw Error(type_mismatch(name(), key, "an integer", v));
}

uint64_t GgufFile::get_uint(const std::string& key, uint64_t fallback) const {
  return has(key) ? get_uint(key) : fallback;
}

float GgufFile::get_f32(const std::string& key) const {
  const auto& v = require(key);
  if (const auto* d = std::get_if<double>(&v.value)) return static_cast<float>(*d);
  throw Error(type_mismatch(name(), key, "f32", v));
}

float GgufFile::get_f32(const std::string& key, float fallback) const { return has(key) ? get_f32(key) : fallback; }

bool GgufFile::get_bool(const std::string& key, bool fallback) const {
  const auto* v = find(key);
  if (v == nullptr) return fallback;
  if (const auto* b = std::get_if<bool>(&v->value)) return *b;
  throw Error(type_mismatch(name(), key, "bool", *v));
}

std::string GgufFile::get_string(const std::string& key) const {
  const auto& v = require(key);
  if (const auto* s = std::get_if<std::string>(&v.value)) return *s;
  throw Error(type_mismatch(name(), key, "string", v));
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

namespace {
const GgufArray& array_of(const GgufFile& f, const GgufValue& v, const std::string& key, GgufValueType element,
                          const char* expected) {
  const auto* items = std::get_if<GgufArray>(&v.value);
  if (items == nullptr || v.element_type != element)
    fail("{}: key '{}' has type {}{}, expected {}", f.name(), key, gguf_value_type_name(v.type),
         items ? fmt::format(" of {}", gguf_value_type_name(v.element_type)) : "", expected);
  return *items;
}
}  // namespace

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& item : array_of(*this, require(key), key, GgufValueType::STRING, "array of string"))
    out.push_back(std::get<std::string>(item.value));
  return out;
}

std::vector<float> GgufFile::get_f32_array(const std::string& key) const {
  std::vector<float> out;
  for (const auto& item : array_of(*this, require(key), key, GgufValueType::F32, "array of f32"))
    out.push_back(static_cast<float>(std::get<double>(item.value)));
  return out;
}

std::vector<int32_t> GgufFile::get_i32_array(const std::string& key) const {
  std::vector<int32_t> out;
  for (const auto& item : array_of(*this, require(key), key, GgufValueType::I32, "array of i32"))
    out.push_back(static_cast<int32_t>(std::get<int64_t>(item.value)));
  return out;
}

void GgufFile::drop_array_values(const std::string& prefix) {
  for (auto& [key, value] : metadata_)
    if (key.rfind(prefix, 0) == 0)
      if (auto* items = std::get_if<GgufArray>(&value.value)) GgufArray().swap(*items);
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& tensor_name) const {
  auto it = tensor_index_.find(tensor_name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tern
