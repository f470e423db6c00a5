// The one place where C++ failures become JavaScript errors.
//
// Every native entry point runs its body through Guarded(): a c10::Error keeps libtorch's message without the C++
// backtrace, a std::exception keeps its what(), and a Napi::Error (already a JS error) passes through untouched.
#pragma once

#include <napi.h>
#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <utility>

namespace lt {

// libtorch's message minus the "Exception raised from ..." tail that some builds append.
inline std::string TorchMessage(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  const auto cut = msg.find("\nException raised from ");
  if (cut != std::string::npos) msg.resize(cut);
  return msg;
}

// Runs fn, turning C++ exceptions into JS exceptions (thrown as Napi::Error with NODE_ADDON_API_CPP_EXCEPTIONS).
template <typename Fn>
auto Guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, TorchMessage(e));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// For worker threads, where no Napi::Env may be touched: the message to reject with later.
template <typename Fn>
bool CaptureError(std::string* message, Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
    return true;
  } catch (const c10::Error& e) {
    *message = TorchMessage(e);
  } catch (const std::exception& e) {
    *message = e.what();
  }
  return false;
}

inline Napi::Error TypeError(Napi::Env env, const std::string& message) {
  return Napi::TypeError::New(env, message);
}

}  // namespace lt
