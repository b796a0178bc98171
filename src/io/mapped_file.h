#pragma once
// A read-only memory map of a whole file. Model files are mapped rather than read so
// that loading is instant and the kernel pages weights in on demand.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace tern {

class MappedFile {
 public:
  // Throws tern::Error for a missing file, a directory, an empty file or a failed map.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }
  // Tells the kernel a range will not be read again (pages may be dropped from RSS).
  void release(std::span<const uint8_t> range) const;

 private:
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tern
