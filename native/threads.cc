#include "threads.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __linux__
#include <sched.h>
#endif

#include "errors.h"
#include "kernels.h"
#include "memory.h"

namespace lt {

namespace {

std::atomic<int> g_threads{1};

// One per core this process may run on, or $OMP_NUM_THREADS when set.
int DefaultThreads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

// Sets this thread's libtorch thread count, after libtorch's own lazy per-thread initialisation (which would
// otherwise run later, at the first parallel op, and reset the count).
// Each at::set_num_threads also recreates libtorch's pthreadpool (whose new thread then spins ~30 ms) and clears
// oneDNN's kernel cache: only when the count changes.
void SetThisThread(int n) {
  at::internal::lazy_init_num_threads();
  if (at::get_num_threads() != n) at::set_num_threads(n);
}

// Threads that run the slices of a batch; created when first needed, grown when more slices are asked for, never
// destroyed (it is leaked on purpose: its threads must outlive static destruction at exit, idle).
class SlicePool {
 public:
  static SlicePool& Instance() {
    static auto* pool = new SlicePool();
    return *pool;
  }

  void Run(int64_t k, int64_t n, const std::function<void(int64_t, int64_t, int64_t)>& fn) {
    std::lock_guard<std::mutex> turn(turn_);
    const auto workers = Grow(static_cast<size_t>(k));
    std::vector<std::string> errors(k);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = {&fn, &errors, k, n, std::min<int64_t>(k, static_cast<int64_t>(workers))};
      next_slice_ = 0;
      running_ = 0;
      ++generation_;
    }
    work_.notify_all();
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (next_slice_ >= job_.k && running_ == 0) break;
      if (next_slice_ >= job_.pooled && next_slice_ < job_.k) {
        // A slice no pool thread could be started for: run it here.
        const int64_t i = next_slice_++;
        ++running_;
        lock.unlock();
        RunSlice(i);
        lock.lock();
        continue;
      }
      done_.wait(lock);
    }
    job_ = {};
    lock.unlock();
    for (const auto& e : errors) {
      if (!e.empty()) throw std::runtime_error(e);
    }
  }

 private:
  struct Job {
    const std::function<void(int64_t, int64_t, int64_t)>* fn = nullptr;
    std::vector<std::string>* errors = nullptr;
    int64_t k = 0, n = 0;
    int64_t pooled = 0;  // slices [0, pooled) may be taken by pool threads
  };

  // Starts threads until there are `want`; returns how many there are (fewer if the system refuses more).
  size_t Grow(size_t want) {
    while (threads_ < want) {
      try {
        std::thread(&SlicePool::Loop, this).detach();
        ++threads_;
      } catch (const std::exception&) {
        break;
      }
    }
    return threads_;
  }

  void RunSlice(int64_t i) {
    const auto& job = job_;
    CaptureError(&(*job.errors)[i], [&] { (*job.fn)(i, i * job.n / job.k, (i + 1) * job.n / job.k); });
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    done_.notify_all();
  }

  void Loop() {
    SetThisThread(1);
    uint64_t seen = 0;
    for (;;) {
      int64_t slice = -1;
      {
        // The next batch's slices come ~0.2 ms after this one's (the SGD step between): wait for them awake,
        // yielding the core, before sleeping. Waking a sleeping thread took up to ~0.3 ms a batch here (2 threads:
        // 51.6-52.6k examples/sec sleeping at once, 54-56k with a 0.3-1 ms wait awake).
        const auto until = std::chrono::steady_clock::now() + kAwake;
        while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until) {
          sched_yield();
        }
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [&] { return generation_ != seen && job_.fn != nullptr; });
        if (next_slice_ < job_.pooled) {
          slice = next_slice_++;
          ++running_;
        } else {
          seen = generation_;
        }
      }
      if (slice >= 0) RunSlice(slice);
    }
  }

  std::mutex turn_;  // one batch at a time
  std::mutex mutex_;
  std::condition_variable work_, done_;
  Job job_;
  int64_t next_slice_ = 0, running_ = 0;
  std::atomic<uint64_t> generation_{0};  // written under mutex_, also read without it while waiting awake
  static constexpr std::chrono::microseconds kAwake{500};
  size_t threads_ = 0;
};

// The thread RunOnComputeThread runs work on; started when first needed, never destroyed (leaked, like SlicePool).
class ComputeThread {
 public:
  static ComputeThread& Instance() {
    static auto* thread = new ComputeThread();
    return *thread;
  }

  // Runs fn here and returns true, or returns false at once when the thread is busy or cannot be started.
  bool TryRun(const std::function<void()>& fn) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (busy_ || !Started()) return false;
    busy_ = true;
    job_ = &fn;
    work_.notify_one();
    done_.wait(lock, [&] { return job_ == nullptr; });
    busy_ = false;
    return true;
  }

 private:
  bool Started() {
    if (!started_) {
      try {
        std::thread(&ComputeThread::Loop, this).detach();
        started_ = true;
      } catch (const std::exception&) {
        return false;
      }
    }
    return true;
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      work_.wait(lock, [&] { return job_ != nullptr; });
      lock.unlock();
      (*job_)();
      lock.lock();
      job_ = nullptr;
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_, done_;
  const std::function<void()>* job_ = nullptr;
  bool busy_ = false, started_ = false;
};

}  // namespace

// libgomp's, found through libtorch's own dependencies (we do not link an OpenMP runtime ourselves); absent with
// another runtime, where ending the team is left to it.
extern "C" int omp_pause_resource_all(int kind) __attribute__((weak));

void RunOnComputeThread(const std::function<void()>& fn) {
  if (!ComputeThread::Instance().TryRun(fn)) fn();
}

void EndThisThreadTeam() {
  constexpr int kOmpPauseSoft = 1;  // omp_pause_soft: the team's threads end; the runtime stays usable
  if (omp_pause_resource_all != nullptr) omp_pause_resource_all(kOmpPauseSoft);
}

void InitProcess() {
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef __GLIBC__
    // glibc hands blocks over its mmap threshold (128 KB at first) back to the kernel on free, so every large tensor
    // allocation faults its pages in afresh: a LeNet step on a batch of 256 allocates ~13 MB of such blocks. Keeping
    // blocks up to 32 MB in the heap cuts the step's page faults 8x and its time by ~25% (test/bench); two arenas
    // instead of one per thread keep the peak RSS down (-60 MB) at no cost in speed. No fast bins: small tensors
    // are freed by garbage collection in batches of thousands, which overflow the thread cache into the fast bins,
    // and glibc then spends ~10 % of a small op's time consolidating them (malloc_consolidate in `perf`): 0.3 us of
    // `a.add(b)`'s 2.7 here (test/bench/percall.js), no change to LeNet's training speed.
    // LENET_TORCH_NO_MALLOC_TUNING=1 leaves glibc's defaults alone.
    if (std::getenv("LENET_TORCH_NO_MALLOC_TUNING") == nullptr) {
      mallopt(M_MMAP_THRESHOLD, 32 << 20);
      mallopt(M_TRIM_THRESHOLD, 256 << 20);
      mallopt(M_ARENA_MAX, 2);
      mallopt(M_MXFAST, 0);
    }
#endif
    InstallCountingAllocator();
    RegisterKernels();
    // libtorch here starts with one intra-op thread; like PyTorch, use one per core ($OMP_NUM_THREADS wins).
    g_threads = DefaultThreads();
  });
}

void SetThreads(int n) {
  g_threads = n;
  ApplyThreads();
}

int Threads() { return g_threads; }

void ApplyThreads() {
  thread_local int applied = 0;
  const int want = g_threads;
  if (applied != want) {
    SetThisThread(want);
    applied = want;
  }
}

void ForEachSlice(int64_t k, int64_t n, const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  if (k <= 1) {
    ApplyThreads();
    fn(0, 0, n);
    return;
  }
  SlicePool::Instance().Run(k, n, fn);
}

}  // namespace lt
