// The one place where C++ failures become JavaScript errors.
//
// Entry points are wrapped once, where they are registered (Method<>, Function<>): a c10::Error keeps libtorch's
// message without the C++ backtrace, a std::exception keeps its what(), a Napi::Error (already a JS error) passes
// through untouched, and anything else becomes an Error instead of terminating the process.
//
// A failure is RETURNED to JS as an Error object, never thrown from C++ (napi_throw): lib/binding.ts wraps every
// native function and method and throws what they return. Why: Node-API runs our finalizers inside garbage
// collection (see CMakeLists.txt), and when a native callback ends with a thrown exception Node re-throws it with
// the exception still recorded as the environment's pending one; if allocating the exception's message starts a GC
// that runs one of our finalizers, Node takes that pending exception for the finalizer's own, tries to report it as
// uncaught inside GC and aborts the process ("Check failed: AllowJavascriptExecution::IsAllowed"). A returned
// value leaves nothing pending. Constructors report their failure the same way (Wrap::Construct).
#pragma once

#include <napi.h>
#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <utility>

namespace lt {

// The property where a failed constructor leaves its Error, and the (non-enumerable) mark of an Error returned by
// a native call (lib/binding.ts reads the same names).
inline constexpr const char* kConstructionError = "__lenetTorchConstructionError";
inline constexpr const char* kNativeError = "__lenetTorchError";

// libtorch's message minus the "Exception raised from ..." tail that some builds append.
inline std::string TorchMessage(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  const auto cut = msg.find("\nException raised from ");
  if (cut != std::string::npos) msg.resize(cut);
  return msg;
}

// The JS error for the exception being handled (call inside a catch block only), marked (kNativeError) so that
// lib/binding.ts tells it from a result: `instanceof Error` cannot, since jest runs tests in another realm.
inline Napi::Value CurrentError(Napi::Env env) {
  Napi::Object error;
  try {
    throw;
  } catch (const Napi::Error& e) {
    // A value that is not an object (JS code can throw anything) is boxed.
    Napi::Value value = e.Value();
    error = value.IsObject() ? value.As<Napi::Object>()
                             : Napi::Error::New(env, value.IsEmpty() ? "lenet-torch: unknown error"
                                                                     : value.ToString().Utf8Value()).Value();
  } catch (const c10::Error& e) {
    error = Napi::Error::New(env, TorchMessage(e)).Value();
  } catch (const std::exception& e) {
    error = Napi::Error::New(env, e.what()).Value();
  } catch (...) {
    error = Napi::Error::New(env, "lenet-torch: unknown native exception").Value();
  }
  error.DefineProperty(Napi::PropertyDescriptor::Value(kNativeError, Napi::Boolean::New(env, true), napi_configurable));
  return error;
}

// Runs fn; its value, or the Error for what it threw (returned, not thrown: see the top of this file).
template <typename Fn>
Napi::Value Guarded(Napi::Env env, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    return CurrentError(env);
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

  // `value` as a T made by `ctor`; a TypeError naming `what` and saying what was expected (`kind`, "a Tensor")
  // for anything else. Each class's From() is this with its constructor.
  static T* UnwrapAs(const Napi::Value& value, const Napi::FunctionReference& ctor, const char* what,
                     const char* kind) {
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(ctor.Value())) {
      throw Napi::TypeError::New(value.Env(), std::string("Expected ") + what + " to be " + kind);
    }
    return Napi::ObjectWrap<T>::Unwrap(value.As<Napi::Object>());
  }

  // UnwrapAs, or nullptr for null / undefined: for the optional handles lib/ passes (a hold, a process group).
  static T* UnwrapOptional(const Napi::Value& value, const Napi::FunctionReference& ctor, const char* what,
                           const char* kind) {
    if (value.IsNull() || value.IsUndefined()) return nullptr;
    return UnwrapAs(value, ctor, what, kind);
  }

 protected:
  // The body of a constructor: what it throws is kept on the new object (kConstructionError) for lib/binding.ts to
  // throw, since a constructor can return nothing else.
  template <typename Fn>
  static void Construct(const Napi::CallbackInfo& info, Fn&& fn) {
    Napi::Env env = info.Env();
    try {
      std::forward<Fn>(fn)();
    } catch (...) {
      info.This().As<Napi::Object>().Set(kConstructionError, CurrentError(env));
    }
  }

  template <Napi::Value (T::*M)(const Napi::CallbackInfo&)>
  static Napi::ClassPropertyDescriptor<T> Method(const char* name) {
    typename Napi::ObjectWrap<T>::InstanceMethodCallback call = &Wrap::template Call<M>;
    // Writable and configurable (napi_default_method): lib/binding.ts replaces each with its throwing wrapper.
    return Napi::ObjectWrap<T>::InstanceMethod(name, call, napi_default_method);
  }

 private:
  template <Napi::Value (T::*M)(const Napi::CallbackInfo&)>
  Napi::Value Call(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), [&] { return (static_cast<T*>(this)->*M)(info); });
  }
};

}  // namespace lt
