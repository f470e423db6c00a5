// The one base for work that runs on libuv's thread pool and settles a Promise on the main thread (training runs,
// evaluation, the shape probe).
//
// Nothing may escape to libuv: when the Node environment is being torn down (worker.terminate(), process.exit()
// in a worker) settling the promise fails, and that failure is dropped instead of terminating the process. At
// process exit, work still running is told to stop (Stopping()) and waited for, briefly, before libtorch's own
// static objects are destroyed under it.
#pragma once

#include <napi.h>

#include <string>

namespace lt {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // Queues the work and returns its promise. The worker deletes itself once settled.
  Napi::Promise Start();

  // Whether running work should stop at its next chance: the process is exiting.
  static bool Stopping();

 protected:
  // Where Run() runs (threads.h RunOnComputeThread, EndThisThreadTeam):
  enum class Thread {
    // libuv's thread: waiting (I/O, a rendezvous, a collective), and the built-in nets' batches split across the
    // slice pool (from the compute thread LeNet's 2-thread training ran at 1 thread's speed, 11.5k against 18-20k
    // examples/sec, cause not found).
    kLibuv,
    // The compute thread when it is free: libtorch compute on its own intra-op threads (a ScriptModule's call).
    kCompute,
    // The same, long (a traced net's training run or evaluation): the main thread's OpenMP team is ended when it is
    // queued. Not per short call: the main thread's next parallel op would start a new team, and a new team's first
    // op recreates libtorch's pthreadpool and clears oneDNN's kernel cache.
    kComputeLong,
  };
  PromiseWorker(Napi::Env env, const char* name, Thread thread = Thread::kLibuv);

  // Worker thread: the work, with this process's libtorch thread count applied. Throw to reject.
  virtual void Run() = 0;
  // Main thread, after Run succeeded: the value to resolve with.
  virtual Napi::Value Result() = 0;
  // Main thread, always, before the promise settles: give back what the work held (see hold.h).
  virtual void Release() {}

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& error) final;
  void Settle(const Napi::Value& value);

  Napi::Promise::Deferred deferred_;
  std::string error_;
  bool failed_ = false;
  Thread thread_ = Thread::kLibuv;
};

}  // namespace lt
