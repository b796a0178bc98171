#include "io/gguf_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "io/atomic_file.h"
#include "tern/error.h"

namespace tern {
namespace {

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

// Serializes into a byte vector; the sizes involved (headers) are small.
class ByteSink {
 public:
  template <typename T>
  void put(T v) {
    // resize + memcpy rather than insert(p, p + sizeof(T)): GCC 12 reports a false
    // -Wstringop-overflow for the inlined insert of a few bytes.
    const size_t at = bytes.size();
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void put_value(const GgufValue& v) {
    switch (v.type) {
      case GgufValueType::U8: put<uint8_t>(std::get<uint64_t>(v.value)); break;
      case GgufValueType::I8: put<int8_t>(std::get<int64_t>(v.value)); break;
      case GgufValueType::U16: put<uint16_t>(std::get<uint64_t>(v.value)); break;
      case GgufValueType::I16: put<int16_t>(std::get<int64_t>(v.value)); break;
      case GgufValueType::U32: put<uint32_t>(std::get<uint64_t>(v.value)); break;
      case GgufValueType::I32: put<int32_t>(std::get<int64_t>(v.value)); break;
      case GgufValueType::U64: put<uint64_t>(std::get<uint64_t>(v.value)); break;
      case GgufValueType::I64: put<int64_t>(std::get<int64_t>(v.value)); break;
      case GgufValueType::F32: put<float>(static_cast<float>(std::get<double>(v.value))); break;
      case GgufValueType::F64: put<double>(std::get<double>(v.value)); break;
      case GgufValueType::BOOL: put<uint8_t>(std::get<bool>(v.value) ? 1 : 0); break;
      case GgufValueType::STRING: put_string(std::get<std::string>(v.value)); break;
      case GgufValueType::ARRAY: {
        const auto& items = std::get<GgufArray>(v.value);
        put<uint32_t>(static_cast<uint32_t>(v.element_type));
        put<uint64_t>(items.size());
        for (const auto& item : items) put_value(item);
        break;
      }
    }
  }
  std::vector<uint8_t> bytes;
};

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  if (key == "general.alignment") {
    // Only what the reader accepts (docs/FORMAT.md 1): a u32 power of two.
    const auto* a = std::get_if<uint64_t>(&value.value);
    if (value.type != GgufValueType::U32 || a == nullptr || *a == 0 || (*a & (*a - 1)) != 0)
      fail("gguf writer: general.alignment must be a u32 power of two");
    alignment_ = *a;
  }
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne,
                            std::vector<uint8_t> data) {
  uint64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
  const uint64_t expected = tensor_bytes(type, ne.at(0), rows);
  if (data.size() != expected)
    fail("gguf writer: tensor '{}' of type {} has {} bytes, expected {}", name, tensor_type_name(type), data.size(),
         expected);
  tensors_.push_back({name, type, std::move(ne), std::move(data)});
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  ByteSink header;
  header.put<uint32_t>(0x46554747);
  header.put<uint32_t>(3);
  header.put<uint64_t>(tensors_.size());
  header.put<uint64_t>(metadata_.size());
  for (const auto& [k, v] : metadata_) {
    header.put_string(k);
    header.put<uint32_t>(static_cast<uint32_t>(v.type));
    header.put_value(v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    header.put_string(t.name);
    header.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (auto d : t.ne) header.put<uint64_t>(d);
    header.put<uint32_t>(static_cast<uint32_t>(t.type));
    header.put<uint64_t>(offset);
    offset = align_up(offset + t.data.size(), alignment_);
  }
  header.bytes.resize(align_up(header.bytes.size(), alignment_), 0);
  return std::move(header.bytes);
}

uint64_t GgufWriter::file_size() const {
  uint64_t size = header_bytes().size();
  for (const auto& t : tensors_) size += align_up(t.data.size(), alignment_);
  return size;
}

void GgufWriter::write_with(const std::function<void(const char*, size_t)>& sink) const {
  const std::vector<uint8_t> header = header_bytes();
  sink(reinterpret_cast<const char*>(header.data()), header.size());
  const std::vector<char> zeros(4096, 0);
  for (const auto& t : tensors_) {
    sink(reinterpret_cast<const char*>(t.data.data()), t.data.size());
    for (uint64_t pad = align_up(t.data.size(), alignment_) - t.data.size(); pad > 0;) {
      const uint64_t n = std::min<uint64_t>(pad, zeros.size());
      sink(zeros.data(), n);
      pad -= n;
    }
  }
}

void GgufWriter::write_to(std::ostream& out) const {
  write_with([&](const char* p, size_t n) { out.write(p, static_cast<std::streamsize>(n)); });
}

void GgufWriter::write(const std::filesystem::path& path) const {
  AtomicFile out(path);
  write_with([&](const char* p, size_t n) { out.write(p, n); });
  out.commit();
}

}  // namespace tern
