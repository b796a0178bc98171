#pragma once
// A heap buffer aligned for the widest vector loads (64 bytes), sized once.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace tern {

template <typename T>
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count, T fill = T{}) { assign(count, fill); }

  void assign(size_t count, T fill = T{}) {
    const size_t bytes = (count * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    data_.reset(static_cast<T*>(std::aligned_alloc(kAlignment, bytes == 0 ? kAlignment : bytes)));
    if (!data_) throw std::bad_alloc();
    size_ = count;
    for (size_t i = 0; i < count; ++i) data_.get()[i] = fill;
  }
  AlignedBuffer(const AlignedBuffer& other) { copy_from(other); }
  AlignedBuffer& operator=(const AlignedBuffer& other) {
    if (this != &other) copy_from(other);
    return *this;
  }
  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }

 private:
  void copy_from(const AlignedBuffer& other) {
    assign(other.size_);
    if (size_) std::memcpy(data_.get(), other.data_.get(), size_ * sizeof(T));
  }
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};

}  // namespace tern
