// The one place where C++ failures become JavaScript errors.
//
// Entry points are wrapped once, where they are registered (Method<>, Function<>): a c10::Error keeps libtorch's
// message without the C++ backtrace, a std::exception keeps its what(), a Napi::Error (already a JS error) passes
// through untouched, and anything else becomes an Error instead of terminating the process.
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
  } catch (...) {
    throw Napi::Error::New(env, "lenet-torch: unknown native exception");
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
  } catch (...) {
    *message = "lenet-torch: unknown native exception";
  }
  return false;
}

// A module-level function, wrapped for registration: exports.Set("name", Function<&Fn>(env, "name")).
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Function Function(Napi::Env env, const char* name) {
  return Napi::Function::New(
      env, [](const Napi::CallbackInfo& info) { return Guarded(info.Env(), [&] { return Fn(info); }); }, name);
}

// The base of every native class: its methods are registered through Method<&T::Name>("name"), which wraps them
// as Function<> does.
template <typename T>
class Wrap : public Napi::ObjectWrap<T> {
 public:
  using Napi::ObjectWrap<T>::ObjectWrap;

  // `value` as a T made by `ctor`, or nullptr for null / undefined; a TypeError naming `what` (and the class as
  // `kind`) for anything else. For the optional handles lib/ passes (a hold, a process group).
  static T* UnwrapOptional(const Napi::Value& value, const Napi::FunctionReference& ctor, const char* what,
                           const char* kind) {
    if (value.IsNull() || value.IsUndefined()) return nullptr;
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(ctor.Value())) {
      throw Napi::TypeError::New(value.Env(), std::string("Expected ") + what + " to be a native " + kind);
    }
    return Napi::ObjectWrap<T>::Unwrap(value.As<Napi::Object>());
  }

 protected:
  template <Napi::Value (T::*M)(const Napi::CallbackInfo&)>
  static Napi::ClassPropertyDescriptor<T> Method(const char* name) {
    typename Napi::ObjectWrap<T>::InstanceMethodCallback call = &Wrap::template Call<M>;
    return Napi::ObjectWrap<T>::InstanceMethod(name, call);
  }

 private:
  template <Napi::Value (T::*M)(const Napi::CallbackInfo&)>
  Napi::Value Call(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), [&] { return (static_cast<T*>(this)->*M)(info); });
  }
};

}  // namespace lt
