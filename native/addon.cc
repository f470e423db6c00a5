// Registers the native classes and functions (and the switch for the fast kernels); nothing else.
#include <napi.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common.h"
#include "data.h"
#include "distributed.h"
#include "errors.h"
#include "functional.h"
#include "hold.h"
#include "jit.h"
#include "kernels-simd.h"
#include "kernels.h"
#include "module.h"
#include "optimizer.h"
#include "ops.h"
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

Napi::Value DirectKernelCallsFn(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(DirectKernelCalls()));
}

Napi::Value CpuCapabilityFn(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), simd::Target()); }

Napi::Value SetCpuCapabilityFn(const Napi::CallbackInfo& info) {
  const std::string name = info[0].As<Napi::String>();
  // The test hook: the loops run on the named target even where libtorch's kernels would be faster.
  if (!simd::SetTarget(name, /*forced=*/true)) {
    std::string names;
    for (const auto& t : simd::Targets()) names += "'" + t + "', ";
    throw Napi::RangeError::New(info.Env(), "Expected capability to be 'auto' or one this CPU has (" +
                                                names.substr(0, names.size() - 2) + ") but received '" + name + "'");
  }
  return info.Env().Undefined();
}

// ATEN_CPU_CAPABILITY (PyTorch's variable: 'default', 'avx2', 'avx512'; here also 'sse4', 'neon') lowers the target
// of the direct loops as it lowers libtorch's own kernels; a name this CPU lacks leaves the best one.
void ApplyCpuCapabilityVariable() {
  static const bool applied = [] {
    if (const char* value = std::getenv("ATEN_CPU_CAPABILITY")) {
      std::string name(value);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      simd::SetTarget(name);
    }
    return true;
  }();
  (void)applied;
}
}  // namespace

Napi::Object Export(Napi::Env env, Napi::Object exports) {
  // Once per process (malloc tuning, the counting allocator, the default thread count); then this environment's
  // own JS thread takes the process's thread count without changing it for the others.
  InitProcess();
  ApplyThreads();
  auto* data = new AddonData();
  env.SetInstanceData(data);

  auto module = ModuleWrap::Init(env);
  data->module = Napi::Persistent(module);
  exports.Set("Module", module);
  auto sgd = SGDWrap::Init(env);
  data->sgd = Napi::Persistent(sgd);
  exports.Set("SGD", sgd);

  InitTensorFunctions(env, exports);
  exports.Set("setFastKernels", Function<&SetFastKernelsFn>(env, "setFastKernels"));
  ApplyCpuCapabilityVariable();
  exports.Set("directKernelCalls", Function<&DirectKernelCallsFn>(env, "directKernelCalls"));
  exports.Set("cpuCapability", Function<&CpuCapabilityFn>(env, "cpuCapability"));
  {
    const auto targets = simd::Targets();
    auto list = Napi::Array::New(env, targets.size());
    for (size_t i = 0; i < targets.size(); ++i) list.Set(static_cast<uint32_t>(i), targets[i]);
    exports.Set("cpuCapabilities", list);
  }
  exports.Set("setCpuCapability", Function<&SetCpuCapabilityFn>(env, "setCpuCapability"));
  InitFunctional(env, exports);
  InitData(env, exports);
  InitTrain(env, exports);
  InitHold(env, exports);
  InitSerialization(env, exports);
  InitOps(env, exports);
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
