// Registers the native classes and functions; nothing else.
#include <napi.h>
#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <torch/torch.h>

#include "common.h"
#include "data.h"
#include "functional.h"
#include "kernels.h"
#include "memory.h"
#include "module.h"
#include "optimizer.h"
#include "tensor.h"
#include "train.h"

namespace lt {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifdef __GLIBC__
  // Keep freed tensor memory in the process for reuse instead of returning it to the kernel and faulting it back
  // in on the next allocation: glibc hands blocks over its mmap threshold (128 KB at first) back to the kernel on
  // free. A LeNet step on a batch of 256 allocates ~13 MB of such blocks; with these settings its page faults drop
  // 8x and the step gets ~25% faster (test/bench). RSS then stays at its peak instead of going up and down.
  auto env_int = [](const char* name, int fallback) { const char* v = std::getenv(name); return v ? std::atoi(v) : fallback; };
  mallopt(M_MMAP_THRESHOLD, env_int("LT_MMAP", 32 << 20));
  mallopt(M_TRIM_THRESHOLD, env_int("LT_TRIM", 1 << 30));
  if (env_int("LT_ARENAS", 0) > 0) mallopt(M_ARENA_MAX, env_int("LT_ARENAS", 0));
#endif
  InstallCountingAllocator();
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

  // libtorch here starts with one intra-op thread; like PyTorch, use one per core ($OMP_NUM_THREADS wins).
  SetThreads(DefaultThreads());

  InitTensorFunctions(env, exports);
  exports.Set("setFastKernels", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    SetFastKernels(info[0].ToBoolean());
    return info.Env().Undefined();
  }));
  InitFunctional(env, exports);
  InitData(env, exports);
  InitTrain(env, exports);

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

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lt::Init(env, exports); }

NODE_API_MODULE(lenet_torch, InitAddon)
