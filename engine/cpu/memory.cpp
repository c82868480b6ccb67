// Host memory: aligned allocation, strided copies with dtype conversion, fills.
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "engine/error.h"
#include "engine/kernels/memory.h"

namespace engine {

Layout make_layout(const Shape& shape, const Shape& strides) {
  ENGINE_CHECK(shape.size() <= size_t(kMaxDims), "tensor of {} dims exceeds the maximum of {}",
               shape.size(), kMaxDims);
  Layout l;
  l.ndim = int(shape.size());
  for (int i = 0; i < l.ndim; ++i) {
    l.shape[i] = shape[i];
    l.strides[i] = strides[i];
  }
  return l;
}

namespace cpu {

namespace {
// Large host blocks are cached for reuse: a fresh multi-megabyte buffer costs a page fault per
// 4 KiB on first touch, which measured 2-8x slower than the kernels writing into it
// (segment_sum, resize backward). Small blocks go straight to malloc, which already reuses
// them. Sizes are rounded to 1/8-octave classes so that similar requests share blocks. The
// cache is the one process-wide host allocator (DESIGN.md allows one allocator per device);
// it is leaked on purpose so that tensors in static objects may be freed after main().
class HostCache {
 public:
  static constexpr size_t kMinCached = size_t(1) << 20;
  static constexpr size_t kMaxCachedBytes = size_t(4) << 30;

  static HostCache& get() {
    static HostCache* cache = new HostCache();
    return *cache;
  }

  static size_t size_class(size_t n) {
    size_t octave = size_t(1) << (63 - __builtin_clzll(n));
    size_t step = octave / 8;
    return (n + step - 1) / step * step;
  }

  void* alloc(size_t nbytes) {
    size_t rounded = (std::max<size_t>(nbytes, 1) + 63) / 64 * 64;
    if (rounded < kMinCached) return checked(std::aligned_alloc(64, rounded), nbytes);
    size_t cls = size_class(rounded);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(cls);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_ -= cls;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, cls);
    if (p == nullptr) {
      release_all();
      p = std::aligned_alloc(64, cls);
    }
    checked(p, nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[p] = cls;
    return p;
  }

  void free(void* p) {
    if (p == nullptr) return;
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = sizes_.find(p);
    if (it == sizes_.end()) {
      lock.unlock();
      std::free(p);
      return;
    }
    size_t cls = it->second;
    if (cached_ + cls > kMaxCachedBytes) {
      sizes_.erase(it);
      lock.unlock();
      std::free(p);
      return;
    }
    free_.emplace(cls, p);
    cached_ += cls;
  }

  void release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [cls, p] : free_) {
      sizes_.erase(p);
      std::free(p);
    }
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  static void* checked(void* p, size_t nbytes) {
    ENGINE_CHECK(p != nullptr, "out of host memory allocating {} bytes", nbytes);
    return p;
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_;        // size class -> idle block
  std::unordered_map<void*, size_t> sizes_;  // every cached-size block we handed out
  size_t cached_ = 0;                        // bytes idle in free_
};
}  // namespace

void* alloc(size_t nbytes) {
  return HostCache::get().alloc(nbytes);
}

void free(void* p) {
  HostCache::get().free(p);
}

void empty_cache() {
  HostCache::get().release_all();
}

size_t cached_bytes() {
  return HostCache::get().cached_bytes();
}

void strided_copy(const void* src, DType src_dtype, const Layout& l, void* dst, DType dst_dtype) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  dispatch_dtype(src_dtype, [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_dtype(dst_dtype, [&](auto d_tag) {
      using D = decltype(d_tag);
      const S* s = static_cast<const S*>(src);
      D* o = static_cast<D*>(dst);
      if (l.ndim == 0) {
        o[0] = convert_element<S, D>(s[0]);
        return;
      }
      // Walk rows of the innermost dim with an odometer over the outer dims.
      int last = l.ndim - 1;
      int64_t inner = l.shape[last], istride = l.strides[last];
      int64_t rows = inner == 0 ? 0 : n / inner;
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t off = l.offset_of(r * inner);
        D* orow = o + r * inner;
        if (istride == 1) {
          for (int64_t i = 0; i < inner; ++i) orow[i] = convert_element<S, D>(s[off + i]);
        } else {
          for (int64_t i = 0; i < inner; ++i) orow[i] = convert_element<S, D>(s[off + i * istride]);
        }
      }
    });
  });
}

void fill(void* dst, DType dtype, int64_t n, double value) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T v = from_double<T>(value);
    T* o = static_cast<T*>(dst);
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  });
}

}  // namespace cpu
}  // namespace engine
