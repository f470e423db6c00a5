#include "worker.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
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

PromiseWorker::PromiseWorker(Napi::Env env, const char* name)
    : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise PromiseWorker::Start() {
  auto promise = deferred_.Promise();
  Queue();
  return promise;
}

bool PromiseWorker::Stopping() { return g_stopping.load(std::memory_order_relaxed); }

void PromiseWorker::Execute() {
  Running running;
  failed_ = !CaptureError(&error_, [&] {
    ApplyThreads();
    Run();
  });
}

void PromiseWorker::OnOK() {
  try {
    Release();
    if (failed_) {
      deferred_.Reject(Napi::Error::New(Env(), error_).Value());
      return;
    }
    // A result that cannot be made (a value JS cannot hold) rejects, rather than leaving the promise unsettled.
    Napi::Value result;
    try {
      result = Guarded(Env(), [&] { return Result(); });
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(result);
  } catch (...) {
    // The environment is going away (its JS can no longer run): nobody is left to tell.
  }
}

// Only reached through Napi::AsyncWorker's own failures (we never call SetError).
void PromiseWorker::OnError(const Napi::Error& error) {
  try {
    Release();
    deferred_.Reject(error.Value());
  } catch (...) {
  }
}

}  // namespace lt
