#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <random>

#include "tern/error.h"

namespace tern {
namespace {

// Temporary files a signal must remove. Process-wide on purpose: a signal handler can
// reach nothing else. Paths are copied into fixed storage before the slot is marked
// used, so the handler (unlink only: async-signal-safe) never sees a half-written path.
constexpr int kMaxTempFiles = 16;
struct TempSlot {
  std::atomic<bool> used{false};
  char path[4096] = {};
};
std::array<TempSlot, kMaxTempFiles> g_temp_files;
struct sigaction g_previous_int, g_previous_term;

void remove_temp_files_and_reraise(int sig) {
  for (auto& slot : g_temp_files)
    if (slot.used.load(std::memory_order_acquire)) ::unlink(slot.path);
  // Back to what was there before (usually the default: terminate), then deliver again.
  ::sigaction(sig, sig == SIGINT ? &g_previous_int : &g_previous_term, nullptr);
  ::raise(sig);
}

void install_handler_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = remove_temp_files_and_reraise;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &g_previous_int);
    ::sigaction(SIGTERM, &action, &g_previous_term);
  });
}

int register_temp_file(const std::string& path) {
  if (path.size() >= sizeof(TempSlot::path)) return -1;
  install_handler_once();
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  for (int i = 0; i < kMaxTempFiles; ++i) {
    auto& slot = g_temp_files[static_cast<size_t>(i)];
    if (slot.used.load(std::memory_order_relaxed)) continue;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.used.store(true, std::memory_order_release);
    return i;
  }
  return -1;  // more than kMaxTempFiles at once: still removed on errors, not on signals
}

void unregister_temp_file(int slot) {
  if (slot >= 0) g_temp_files[static_cast<size_t>(slot)].used.store(false, std::memory_order_release);
}

std::string random_suffix() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::string s;
  for (int i = 0; i < 12; ++i) s += kChars[device() % (sizeof(kChars) - 1)];
  return s;
}

void fsync_directory(const std::filesystem::path& dir, const std::filesystem::path& target) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open its folder to sync it: {}", target.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0 && saved != EINVAL) fail("{}: cannot sync its folder: {}", target.string(), std::strerror(saved));
}

}  // namespace

AtomicFile::AtomicFile(const std::filesystem::path& target) : target_(target) {
  std::error_code ec;
  if (std::filesystem::is_directory(target, ec)) fail("{}: is a directory; -o needs a file name", target.string());
  const auto dir = target.parent_path();
  std::string stem = ".";  // appended piecewise: GCC 12 warns (-Wrestrict) on "." + string
  stem += target.filename().string();
  stem += ".tmp-";
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_ = dir / (stem + random_suffix());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST)
      fail("{}: cannot create {}: {}", target.string(), temp_.string(), std::strerror(errno));
  }
  if (fd_ < 0) fail("{}: cannot find a free temporary name beside it", target.string());
  slot_ = register_temp_file(temp_.string());
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
  unregister_temp_file(slot_);
  slot_ = -1;
}

void AtomicFile::write(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t done = ::write(fd_, p, n);
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) {
      const int saved = errno;
      discard();
      fail("{}: write failed: {}", target_.string(), std::strerror(saved));
    }
    p += done;
    n -= static_cast<size_t>(done);
  }
}

void AtomicFile::commit() {
  const int synced = ::fsync(fd_);
  int saved = errno;
  const int closed = ::close(fd_);
  if (closed != 0 && synced == 0) saved = errno;
  fd_ = -1;
  if (synced != 0 || closed != 0) {
    discard();
    fail("{}: cannot flush to disk: {}", target_.string(), std::strerror(saved));
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    const int saved = errno;
    discard();
    fail("{}: cannot replace it: {}", target_.string(), std::strerror(saved));
  }
  temp_.clear();  // it is the target now
  unregister_temp_file(slot_);
  slot_ = -1;
  fsync_directory(target_.parent_path(), target_);
}

}  // namespace tern
