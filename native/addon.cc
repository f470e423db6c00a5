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
  // glibc hands blocks over its mmap threshold (128 KB at first) back to the kernel on free, so every large tensor
  // allocation faults its pages in afresh: a LeNet step on a batch of 256 allocates ~13 MB of such blocks. Keeping
  // blocks up to 32 MB in the heap cuts the step's page faults 8x and its time by ~25% (test/bench); two arenas
  // instead of one per thread keep the peak RSS down (-60 MB) at no cost in speed. LENET_TORCH_NO_MALLOC_TUNING=1
  // leaves glibc's defaults alone.
  if (std::getenv("LENET_TORCH_NO_MALLOC_TUNING") == nullptr) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_ARENA_MAX, 2);
  }
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
