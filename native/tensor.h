// TensorWrap: a JS handle over one at::Tensor. V8 is told how many bytes the tensor's storage holds, so garbage
// collection keeps pace with native memory in loops that never call dispose().
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include "errors.h"

namespace lt {

class TensorWrap : public Wrap<TensorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps a tensor in a new JS object; an undefined tensor becomes null. `owned` says whether the handle owns
  // the memory (a new result) rather than viewing a tensor something else keeps alive (a module's parameter, its
  // gradient): only owned memory is reported to V8, or every parameters() call would look like an allocation.
  static Napi::Value New(Napi::Env env, at::Tensor tensor, bool owned = true);
  // A result that holds `bytes` of native memory in all, its autograd graph included (see memory.h).
  static Napi::Value New(Napi::Env env, at::Tensor tensor, int64_t bytes);
  // The tensor behind a JS handle; a TypeError naming `what` if it is not one, an Error if it was disposed.
  static const at::Tensor& From(const Napi::Value& value, const char* what);
  // Whether `value` is a handle: an object whose prototype is Tensor.prototype (not instanceof, which looks up
  // Symbol.hasInstance and walks the chain: the per-call cost of the operator road). An object made with
  // Object.create(Tensor.prototype) passes this and is refused by From() (napi_unwrap finds nothing).
  static bool Is(const Napi::Value& value);
  // The tensors of a JS array of handles (From() for each).
  static std::vector<at::Tensor> List(const Napi::Value& value, const char* what);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

 private:
  // The tensor, for reading or writing its values (refused while a training holds it), or only its metadata.
  const at::Tensor& Get(const Napi::Env& env) const;
  const at::Tensor& Meta(const Napi::Env& env) const;
  void Release();

  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetData(const Napi::CallbackInfo& info);
  Napi::Value IsLeaf(const Napi::CallbackInfo& info);
  Napi::Value GradFn(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value Data(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  Napi::Value View(const Napi::CallbackInfo& info);
  Napi::Value Index(const Napi::CallbackInfo& info);
  Napi::Value IndexPut(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value Identity(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  at::Tensor tensor_;
  bool disposed_ = false;
  int64_t external_bytes_ = 0;
  napi_env env_ = nullptr;
};

// Module-level tensor functions: creation, seeding, threads, CUDA queries, grad mode.
void InitTensorFunctions(Napi::Env env, Napi::Object exports);

}  // namespace lt
