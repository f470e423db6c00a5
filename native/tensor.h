// TensorWrap: the JS handle of one at::Tensor. V8 is told how many bytes the tensor's storage holds, so garbage
// collection keeps pace with native memory in loops that never call dispose().
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include "errors.h"

namespace lt {

// The state behind one handle: the tensor, whether dispose() freed it, the bytes reported to V8 for it (given back
// by dispose() or the finalizer) and the environment those were reported to.
struct TensorHandle {
  at::Tensor tensor;
  bool disposed = false;
  int64_t external_bytes = 0;
  napi_env env = nullptr;
};

// The JS handle of a tensor is a napi External over a TensorHandle, tagged (napi_type_tag_object) as a tensor's:
// cheaper to make than an object of a class (no constructor call, no napi_wrap) and to recognise (napi_typeof and
// the tag check, no prototype lookup, no napi_unwrap). Its operations are module functions taking the handle first
// (tensorShape(h), ...). The finalizer frees the tensor and gives its bytes back to V8; it runs inside garbage
// collection (see CMakeLists.txt) and calls no JS.
class TensorWrap {
 public:
  // Wraps a tensor in a new handle; an undefined tensor becomes null. `owned` says whether the handle owns
  // the memory (a new result) rather than viewing a tensor something else keeps alive (a module's parameter, its
  // gradient): only owned memory is reported to V8, or every parameters() call would look like an allocation.
  static Napi::Value New(Napi::Env env, at::Tensor tensor, bool owned = true);
  // A result that holds `bytes` of native memory in all, its autograd graph included (see memory.h).
  static Napi::Value New(Napi::Env env, at::Tensor tensor, int64_t bytes);
  // The tensor behind a JS handle; a TypeError naming `what` if it is not one, an Error if it was disposed, the
  // hold's Error while a training holds it (see hold.h).
  static const at::Tensor& From(const Napi::Value& value, const char* what);
  // Whether `value` is a handle: an External carrying the tensor tag (one napi_typeof and one tag check).
  static bool Is(const Napi::Value& value);
  // Whether a value napi_typeof already found an External carries the tensor tag (Is() without the typeof).
  static bool Tagged(const Napi::Value& value);
  // From() when `value` is a handle, nullptr when it is not: one tag check where Is() then From() make two (the
  // operator road converts every tensor argument so).
  static const at::Tensor* TryFrom(const Napi::Value& value);
  // The tensor behind a value Is() already took, for reading or writing (refused while a training holds it).
  static const at::Tensor& FromChecked(const Napi::Value& value);
  // The state behind a handle, disposed or not; a TypeError naming `what` if `value` is not a handle.
  static TensorHandle* HandleOf(const Napi::Value& value, const char* what);
  // The tensors of a JS array of handles (From() for each).
  static std::vector<at::Tensor> List(const Napi::Value& value, const char* what);
};

// Module-level tensor functions: the handle's operations (tensorShape(h), ...), creation, seeding, threads, CUDA
// queries, grad mode.
void InitTensorFunctions(Napi::Env env, Napi::Object exports);

}  // namespace lt
