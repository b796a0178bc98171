#pragma once
// Writes a file so that the target path only ever names the old file or the complete
// new one. The bytes go to a temporary file beside the target, created exclusively
// under an unpredictable name (O_CREAT | O_EXCL | O_NOFOLLOW: a planted file or symlink
// is never written through), then fsync, rename over the target, fsync the directory.
// The temporary file is removed on every failure path, by the destructor when commit()
// was not reached, and by a SIGINT/SIGTERM handler while it exists.
#include <cstddef>
#include <filesystem>
#include <string>

namespace tern {

class AtomicFile {
 public:
  // Throws tern::Error if the target is a directory or the temporary file cannot be made.
  explicit AtomicFile(const std::filesystem::path& target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // throws tern::Error naming the target
  // Makes the bytes durable and puts them at the target path.
  void commit();

  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  void discard() noexcept;

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  int slot_ = -1;  // index in the signal handler's table of temporary files
};

}  // namespace tern
