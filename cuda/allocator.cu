// The caching device allocator and the pinned host buffer cache (cuda/allocator.h).
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/runtime.h"
#include "engine/kernels/memory.h"

namespace engine::cuda {

namespace {

constexpr size_t kMiB = size_t(1) << 20;
constexpr size_t kRound = 512;              // every request is a multiple of this
constexpr size_t kSmallLimit = kMiB;        // requests up to this come from the small pool
constexpr size_t kSmallSegment = 2 * kMiB;  // the small pool's cudaMalloc size
constexpr size_t kLargeRound = 2 * kMiB;    // large segments are multiples of this
// Larger than any GPU: refused before rounding could overflow.
constexpr size_t kMaxRequest = size_t(1) << 52;

size_t round_up(size_t n, size_t m) {
  return (n + m - 1) / m * m;
}

double mib(size_t n) {
  return double(n) / double(kMiB);
}

struct Block {
  char* ptr = nullptr;
  size_t size = 0;
  cudaStream_t stream = nullptr;
  bool small = false;
  bool allocated = false;
  Block* prev = nullptr;  // neighbours inside the same cudaMalloc segment
  Block* next = nullptr;
};

// Free blocks ordered so that lower_bound({stream, size}) finds the smallest fitting block of a
// stream.
struct BlockOrder {
  bool operator()(const Block* a, const Block* b) const {
    return std::make_tuple(uintptr_t(a->stream), a->size, uintptr_t(a->ptr)) <
           std::make_tuple(uintptr_t(b->stream), b->size, uintptr_t(b->ptr));
  }
};
using FreeSet = std::set<Block*, BlockOrder>;

struct DevicePool {
  std::mutex mutex;
  FreeSet small_free, large_free;
  std::unordered_map<void*, Block*> live;
  AllocatorStats stats;
  size_t cached = 0;  // bytes in free blocks
};

// One pool per device, created on first use and kept until process exit (freeing segments from a
// static destructor would race the CUDA runtime's teardown).
struct PoolTable {
  std::once_flag once;
  std::vector<DevicePool*> pools;
};

PoolTable& pool_table() {
  static PoolTable* t = new PoolTable();
  return *t;
}

DevicePool& pool_of(int device) {
  PoolTable& t = pool_table();
  std::call_once(t.once, [&] {
    int n = device_count();
    for (int i = 0; i < n; ++i) t.pools.push_back(new DevicePool());
  });
  ENGINE_CHECK(device >= 0 && size_t(device) < t.pools.size(),
               "CUDA allocator: cuda:{} does not exist ({} CUDA devices)", device, t.pools.size());
  return *t.pools[size_t(device)];
}

// Returns every segment that is entirely free to the driver. Caller holds the pool's mutex and
// has made `device` current. cudaFree synchronizes the device, so no queued work still uses them.
void release_cached(DevicePool& pool) {
  for (FreeSet* set : {&pool.small_free, &pool.large_free}) {
    for (auto it = set->begin(); it != set->end();) {
      Block* b = *it;
      if (b->prev == nullptr && b->next == nullptr) {
        cudaFree(b->ptr);
        pool.stats.reserved -= b->size;
        pool.cached -= b->size;
        it = set->erase(it);
        delete b;
      } else {
        ++it;
      }
    }
  }
}

[[noreturn]] void throw_out_of_memory(DevicePool& pool, int device, size_t nbytes,
                                      cudaError_t err) {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();
  const AllocatorStats& s = pool.stats;
  ENGINE_THROW(
      "CUDA out of memory on cuda:{}: cannot allocate {} bytes ({:.1f} MiB): {}. Allocator: "
      "{:.1f} MiB in use, {:.1f} MiB cached, {:.1f} MiB reserved, peak {:.1f} MiB, {} "
      "allocations served, {} cudaMalloc calls. Device: {:.1f} MiB free of {:.1f} MiB",
      device, nbytes, mib(nbytes), cudaGetErrorString(err), mib(s.in_use), mib(pool.cached),
      mib(s.reserved), mib(s.peak), s.num_allocs, s.num_cuda_mallocs, mib(free_b), mib(total_b));
}

}  // namespace

void* allocator_alloc(size_t nbytes, int device, cudaStream_t stream) {
  DevicePool& pool = pool_of(device);
  if (stream == nullptr) stream = compute_stream(device);
  std::lock_guard<std::mutex> lock(pool.mutex);
  if (nbytes > kMaxRequest) throw_out_of_memory(pool, device, nbytes, cudaErrorMemoryAllocation);
  const size_t size = round_up(nbytes == 0 ? 1 : nbytes, kRound);
  const bool small = size <= kSmallLimit;
  FreeSet& set = small ? pool.small_free : pool.large_free;

  Block key;
  key.stream = stream;
  key.size = size;
  Block* b = nullptr;
  auto it = set.lower_bound(&key);
  if (it != set.end() && (*it)->stream == stream) {
    b = *it;
    set.erase(it);
    pool.cached -= b->size;
  } else {
    const size_t seg = small ? kSmallSegment : round_up(size, kLargeRound);
    DeviceGuard guard(device);
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, seg);
    if (err != cudaSuccess) {
      cudaGetLastError();
      release_cached(pool);
      err = cudaMalloc(&p, seg);
      if (err != cudaSuccess) {
        cudaGetLastError();
        throw_out_of_memory(pool, device, nbytes, err);
      }
    }
    b = new Block();
    b->ptr = static_cast<char*>(p);
    b->size = seg;
    b->stream = stream;
    b->small = small;
    pool.stats.reserved += seg;
    pool.stats.num_cuda_mallocs += 1;
  }

  // Split off the tail when it can serve another request of the same pool; a large block keeps a
  // tail under 1 MiB rather than polluting the large pool with small pieces.
  const size_t rest = b->size - size;
  if (small ? rest >= kRound : rest > kSmallLimit) {
    Block* tail = new Block();
    tail->ptr = b->ptr + size;
    tail->size = rest;
    tail->stream = b->stream;
    tail->small = b->small;
    tail->prev = b;
    tail->next = b->next;
    if (b->next != nullptr) b->next->prev = tail;
    b->next = tail;
    b->size = size;
    set.insert(tail);
    pool.cached += rest;
  }
  b->allocated = true;
  pool.live.emplace(b->ptr, b);
  AllocatorStats& s = pool.stats;
  s.in_use += b->size;
  if (s.in_use > s.peak) s.peak = s.in_use;
  s.num_allocs += 1;
  return b->ptr;
}

void allocator_free(void* p, int device) {
  if (p == nullptr) return;
  DevicePool& pool = pool_of(device);
  std::lock_guard<std::mutex> lock(pool.mutex);
  auto it = pool.live.find(p);
  if (it == pool.live.end()) {
    // Runs from destructors: report the bug loudly but do not throw.
    std::fprintf(stderr, "engine: CUDA allocator: free of %p, not a live block of cuda:%d\n", p,
                 device);
    return;
  }
  Block* b = it->second;
  pool.live.erase(it);
  pool.stats.in_use -= b->size;
  b->allocated = false;
  FreeSet& set = b->small ? pool.small_free : pool.large_free;
  // Merge with free neighbours so that large requests can reuse the space.
  if (b->prev != nullptr && !b->prev->allocated) {
    Block* prev = b->prev;
    set.erase(prev);
    pool.cached -= prev->size;
    prev->size += b->size;
    prev->next = b->next;
    if (b->next != nullptr) b->next->prev = prev;
    delete b;
    b = prev;
  }
  if (b->next != nullptr && !b->next->allocated) {
    Block* next = b->next;
    set.erase(next);
    pool.cached -= next->size;
    b->size += next->size;
    b->next = next->next;
    if (next->next != nullptr) next->next->prev = b;
    delete next;
  }
  set.insert(b);
  pool.cached += b->size;
}

size_t allocator_cached_bytes(int device) {
  DevicePool& pool = pool_of(device);
  std::lock_guard<std::mutex> lock(pool.mutex);
  return pool.cached;
}

AllocatorStats allocator_stats(int device) {
  DevicePool& pool = pool_of(device);
  std::lock_guard<std::mutex> lock(pool.mutex);
  return pool.stats;
}

void reset_peak(int device) {
  DevicePool& pool = pool_of(device);
  std::lock_guard<std::mutex> lock(pool.mutex);
  pool.stats.peak = pool.stats.in_use;
}

DeviceBuffer::DeviceBuffer(size_t nbytes, int device)
    : ptr_(nbytes > 0 ? allocator_alloc(nbytes, device) : nullptr),
      nbytes_(nbytes),
      device_(device) {}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) allocator_free(ptr_, device_);
}

// ------------------------------------------------------------------ pinned host buffers

namespace {

struct PinnedBlock {
  void* ptr = nullptr;
  cudaEvent_t ready = nullptr;  // recorded at free: the copies queued before it have finished
};

struct PinnedCache {
  std::mutex mutex;
  std::multimap<size_t, PinnedBlock> free;  // by rounded size
  std::unordered_map<void*, size_t> live;
};

PinnedCache& pinned_cache() {
  static PinnedCache* c = new PinnedCache();
  return *c;
}

size_t pinned_round(size_t n) {
  if (n == 0) n = 1;
  return n < 2 * kMiB ? round_up(n, 4096) : round_up(n, 2 * kMiB);
}

bool pinned_ready(const PinnedBlock& b) {
  if (b.ready == nullptr) return true;
  cudaError_t err = cudaEventQuery(b.ready);
  if (err == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  CUDA_CHECK(err);
  return true;
}

// Frees cached pinned blocks; waits for their last copies first. Caller holds the mutex.
void release_pinned(PinnedCache& c) {
  for (auto& [size, b] : c.free) {
    if (b.ready != nullptr) {
      cudaEventSynchronize(b.ready);
      cudaEventDestroy(b.ready);
    }
    cudaFreeHost(b.ptr);
  }
  c.free.clear();
}

}  // namespace

void* alloc_pinned(size_t nbytes) {
  PinnedCache& c = pinned_cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  ENGINE_CHECK(nbytes <= kMaxRequest, "alloc_pinned: {} bytes is more than any host has", nbytes);
  const size_t size = pinned_round(nbytes);
  auto [lo, hi] = c.free.equal_range(size);
  for (auto it = lo; it != hi; ++it) {
    if (!pinned_ready(it->second)) continue;
    void* p = it->second.ptr;
    if (it->second.ready != nullptr) cudaEventDestroy(it->second.ready);
    c.free.erase(it);
    c.live.emplace(p, size);
    return p;
  }
  void* p = nullptr;
  // Portable: usable for copies to and from every device.
  cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocPortable);
  if (err != cudaSuccess) {
    cudaGetLastError();
    release_pinned(c);
    err = cudaHostAlloc(&p, size, cudaHostAllocPortable);
    if (err != cudaSuccess) {
      cudaGetLastError();
      ENGINE_THROW("alloc_pinned: cannot allocate {} bytes ({:.1f} MiB) of pinned host memory: {}",
                   nbytes, mib(nbytes), cudaGetErrorString(err));
    }
  }
  c.live.emplace(p, size);
  return p;
}

void free_pinned(void* p) {
  if (p == nullptr) return;
  PinnedCache& c = pinned_cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.live.find(p);
  if (it == c.live.end()) {
    std::fprintf(stderr, "engine: free_pinned of %p, not a live pinned buffer\n", p);
    return;
  }
  PinnedBlock b;
  b.ptr = p;
  // The buffer may still feed a queued asynchronous copy on the current device's compute stream:
  // it is reused only once the stream has passed this point. Without a stream to mark, wait for
  // the device instead (this runs in destructors: nothing here may throw).
  cudaStream_t stream = nullptr;
  try {
    stream = current_stream();
  } catch (const Error&) {
    stream = nullptr;
  }
  if (stream == nullptr ||
      cudaEventCreateWithFlags(&b.ready, cudaEventDisableTiming) != cudaSuccess ||
      cudaEventRecord(b.ready, stream) != cudaSuccess) {
    cudaGetLastError();
    if (b.ready != nullptr) cudaEventDestroy(b.ready);
    b.ready = nullptr;
    cudaDeviceSynchronize();
  }
  c.free.emplace(it->second, b);
  c.live.erase(it);
}

void empty_cache() {
  PoolTable& t = pool_table();
  int n = device_count();
  if (n > 0) {
    pool_of(0);  // makes sure the table exists
    for (int d = 0; d < n && size_t(d) < t.pools.size(); ++d) {
      DevicePool& pool = *t.pools[size_t(d)];
      std::lock_guard<std::mutex> lock(pool.mutex);
      DeviceGuard guard(d);
      release_cached(pool);
    }
  }
  PinnedCache& c = pinned_cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  release_pinned(c);
}

}  // namespace engine::cuda
