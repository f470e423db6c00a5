// ScriptModuleWrap: a JS handle over a TorchScript module (torch::jit::Module), as torch.jit.load gives it or as
// torch.jit.trace makes it from a lenet-torch net. Its methods run on libuv's thread pool (several at once: a
// TorchScript method only reads the module); what would change the module while they run is refused.
#pragma once

#include <napi.h>
#include <torch/script.h>

#include <atomic>

#include "errors.h"

namespace lt {

class ScriptModuleWrap : public Wrap<ScriptModuleWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // A new JS handle over `module`.
  static Napi::Value New(Napi::Env env, torch::jit::Module module);
  // The ScriptModule handle `value` is, or nullptr for anything else.
  static ScriptModuleWrap* FromOptional(const Napi::Value& value);
  const torch::jit::Module& module() const { return module_; }
  explicit ScriptModuleWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value RunMethod(const Napi::CallbackInfo& info);
  Napi::Value MethodNames(const Napi::CallbackInfo& info);
  Napi::Value Signature(const Napi::CallbackInfo& info);
  Napi::Value NamedParameters(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value IsTraining(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Code(const Napi::CallbackInfo& info);
  Napi::Value Graph(const Napi::CallbackInfo& info);
  Napi::Value CheckIdleFn(const Napi::CallbackInfo& info);

  // Refuses what would change the module (or read it mid-change) while methods run on worker threads, and while a
  // net that shares its parameters trains (hold.h).
  void CheckIdle(Napi::Env env, const char* what) const;
  // Refuses reading the module while a net that shares its parameters trains.
  void CheckNotHeld(Napi::Env env) const;
  torch::jit::Method Find(Napi::Env env, const std::string& name) const;

  torch::jit::Module module_;
  std::shared_ptr<std::atomic<int>> running_ = std::make_shared<std::atomic<int>>(0);
};

void InitJit(Napi::Env env, Napi::Object exports);

}  // namespace lt
