// Threads, with one owner: how many intra-op threads the user asked for (torch.set_num_threads, process-wide as
// in PyTorch), how a thread that runs libtorch work applies that count, and the persistent pool that runs the
// slices of a batch in parallel on the CPU.
//
// libtorch keeps its OpenMP thread count per thread and, whenever it is set, clears oneDNN's cached kernels, which
// depend on it. So each thread applies a count once and again only when it changes, never per batch; the pool's
// threads are set to one intra-op thread when they start and keep it.
#pragma once

#include <cstdint>
#include <functional>

namespace lt {

// Process-wide setup, once per process whatever the number of Node environments (worker_threads) that load us:
// the default thread count (one per core, or $OMP_NUM_THREADS), glibc's malloc tuning.
void InitProcess();

// torch.set_num_threads / get_num_threads.
void SetThreads(int n);
int Threads();

// Makes the calling thread run libtorch ops with Threads() intra-op threads (cheap when already so).
void ApplyThreads();

// Runs fn(slice, begin, end) for k slices of [0, n), in parallel on the pool's threads (one intra-op thread
// each), and waits for all of them; k == 1 runs on the calling thread with ApplyThreads(). Rethrows the first
// failure once every slice has finished. One batch at a time process-wide: concurrent callers take turns.
void ForEachSlice(int64_t k, int64_t n, const std::function<void(int64_t, int64_t, int64_t)>& fn);

}  // namespace lt
