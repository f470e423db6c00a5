#include "worker.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "errors.h"
#include "threads.h"

namespace lt {

namespace {

std::atomic<bool> g_stopping{false};
std::mutex g_mutex;
std::condition_variable g_idle;
int g_running = 0;

// Destroyed at exit() before libtorch's static objects (libtorch was loaded, and constructed, before us): asks
// running work to stop and gives it a moment to do so.
struct ExitGuard {
  ~ExitGuard() {
    g_stopping = true;
    std::unique_lock<std::mutex> lock(g_mutex);
    g_idle.wait_for(lock, std::chrono::seconds(5), [] { return g_running == 0; });
  }
} g_exit_guard;

struct Running {
  Running() {
    std::lock_guard<std::mutex> lock(g_mutex);
    ++g_running;
  }
  ~Running() {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (--g_running == 0) g_idle.notify_all();
  }
};

}  // namespace

PromiseWorker::PromiseWorker(Napi::Env env, const char* name, Thread thread)
    : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), thread_(thread) {}

Napi::Promise PromiseWorker::Start() {
  auto promise = deferred_.Promise();
  if (thread_ == Thread::kComputeLong) EndThisThreadTeam();
  Queue();
  return promise;
}

bool PromiseWorker::Stopping() { return g_stopping.load(std::memory_order_relaxed); }

void PromiseWorker::Execute() {
  Running running;
  const std::function<void()> work = [&] {
    failed_ = !CaptureError(&error_, [&] {
      ApplyThreads();
      Run();
    });
  };
  if (thread_ != Thread::kLibuv) {
    RunOnComputeThread(work);
  } else {
    work();
  }
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  // Settle() is the one way out: Result() or Release() failing rejects the promise with that failure instead of
  // leaving it pending forever.
  Napi::Value value;
  try {
    Release();
    value = failed_ ? Napi::Error::New(env, error_).Value() : Result();
  } catch (...) {
    failed_ = true;
    value = CurrentError(env);
  }
  Settle(value);
}

// Only reached through Napi::AsyncWorker's own failures (we never call SetError).
void PromiseWorker::OnError(const Napi::Error& error) {
  failed_ = true;
  Napi::Value value = error.Value();
  try {
    Release();
  } catch (...) {
  }
  Settle(value);
}

void PromiseWorker::Settle(const Napi::Value& value) {
  try {
    if (failed_) {
      deferred_.Reject(value);
    } else {
      deferred_.Resolve(value);
    }
  } catch (...) {
    // The environment is going away (its JS can no longer run): nobody is left to tell.
  }
}

}  // namespace lt
