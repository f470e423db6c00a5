// Registers the native classes and functions (and the switch for the fast kernels); nothing else.
#include <napi.h>
#include <torch/torch.h>

#include "common.h"
#include "data.h"
#include "distributed.h"
#include "errors.h"
#include "functional.h"
#include "hold.h"
#include "jit.h"
#include "kernels.h"
#include "module.h"
#include "optimizer.h"
#include "serialization.h"
#include "tensor.h"
#include "threads.h"
#include "train.h"

namespace lt {

namespace {
Napi::Value SetFastKernelsFn(const Napi::CallbackInfo& info) {
  SetFastKernels(info[0].ToBoolean());
  return info.Env().Undefined();
}
}  // namespace

Napi::Object Export(Napi::Env env, Napi::Object exports) {
  // Once per process (malloc tuning, the counting allocator, the default thread count); then this environment's
  // own JS thread takes the process's thread count without changing it for the others.
  InitProcess();
  ApplyThreads();
  auto* data = new AddonData();
  env.SetInstanceData(data);

  auto tensor = TensorWrap::Init(env);
  data->tensor = Napi::Persistent(tensor);
  exports.Set("Tensor", tensor);
  auto module = ModuleWrap::Init(env);
  data->module = Napi::Persistent(module);
  exports.Set("Module", module);
  auto sgd = SGDWrap::Init(env);
  data->sgd = Napi::Persistent(sgd);
  exports.Set("SGD", sgd);

  InitTensorFunctions(env, exports);
  exports.Set("setFastKernels", Function<&SetFastKernelsFn>(env, "setFastKernels"));
  InitFunctional(env, exports);
  InitData(env, exports);
  InitTrain(env, exports);
  InitHold(env, exports);
  InitSerialization(env, exports);
  InitDistributed(env, exports);
  InitJit(env, exports);

  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  exports.Set("cudaBuild", Napi::Boolean::New(env,
#ifdef LT_WITH_CUDA
                                              true
#else
                                              false
#endif
                                              ));
  return exports;
}

}  // namespace lt

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lt::Export(env, exports); }

NODE_API_MODULE(lenet_torch, InitAddon)
