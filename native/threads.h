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

// Runs fn on the process's compute thread when it is free, else on the calling thread (another call has it), and
// returns once fn has. fn must not throw.
//
// Why one thread: libgomp (libtorch's OpenMP) keeps a team of intra-op threads for each thread that starts parallel
// work, and once all teams' threads outnumber the cores it lets an idle team thread spin ~100 times instead of
// ~300,000 before it sleeps, so every parallel region then pays for waking a sleeping thread. Work queued on libuv's
// four threads in turn made four teams; a team's first parallel region also resets libtorch's thread count on its
// new thread, which recreates libtorch's pthreadpool and clears oneDNN's kernel cache. PyTorch's eager loop runs all
// of it on one thread: so do we. GoogLeNet's training step at 2 threads (test/bench/chapter7.js): 0.86x PyTorch's
// speed with the work on libuv's threads.
void RunOnComputeThread(const std::function<void()>& fn);

// Ends the calling thread's OpenMP team, if it has one, so that it no longer counts against the cores while another
// thread does the work (see RunOnComputeThread). Called on the main thread when long work (a traced net's training
// or evaluation: worker.h Thread::kComputeLong) is queued; the main thread's next parallel op starts a new team.
void EndThisThreadTeam();

// Runs fn(slice, begin, end) for k slices of [0, n), in parallel on the pool's threads (one intra-op thread
// each), and waits for all of them; k == 1 runs on the calling thread with ApplyThreads(). Rethrows the first
// failure once every slice has finished. One batch at a time process-wide: concurrent callers take turns.
void ForEachSlice(int64_t k, int64_t n, const std::function<void(int64_t, int64_t, int64_t)>& fn);

}  // namespace lt
