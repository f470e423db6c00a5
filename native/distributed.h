// torch.distributed over libtorch's c10d: a process group (Gloo, or NCCL on a CUDA build) made by a TCPStore
// rendezvous, its collectives as Promises, and the steps DistributedDataParallel needs (parameters broadcast from
// rank 0, gradients averaged across ranks), which the fused train step (native/train.cc) also calls.
//
// Every collective, the gradient averaging of each training step included, first checks that the ranks agree on it
// (which collective, its reduce op or source rank, the dtype, device and shape of each tensor) with one small
// all-gather, and fails with the same Error on every rank when they do not: Gloo given different sizes aborts the
// process from its I/O thread, or mixes the ranks' bytes when the sizes happen to fit.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "errors.h"

namespace lt {

// One process group: the c10d backend and its store (defined in distributed.cc, where the c10d headers are).
struct Collectives;

// Averages the gradients of `params` across the group's ranks in place (a missing gradient counts as zeros): one
// flat bucket, one allreduce, divided by the world size. Blocks until done; any thread. Every rank must call it
// with the same parameter shapes in the same order (checked first: the same Error on every rank if not).
void AverageGradients(Collectives& group, const std::vector<at::Tensor>& params);

class ProcessGroupWrap : public Wrap<ProcessGroupWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // A ProcessGroup handle, or null / undefined: nullptr. A TypeError naming `what` for anything else.
  static ProcessGroupWrap* FromOptional(const Napi::Value& value, const char* what);
  // Made only by initProcessGroup (an External over the group).
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);

  // The group, or an Error when destroy() was called.
  std::shared_ptr<Collectives> group(Napi::Env env) const;

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Backend(const Napi::CallbackInfo& info);
  Napi::Value AllReduce(const Napi::CallbackInfo& info);
  Napi::Value Broadcast(const Napi::CallbackInfo& info);
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  Napi::Value AverageGradientsSync(const Napi::CallbackInfo& info);
  Napi::Value BroadcastParameters(const Napi::CallbackInfo& info);
  Napi::Value BroadcastParametersAsync(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);

  std::shared_ptr<Collectives> group_;
};

void InitDistributed(Napi::Env env, Napi::Object exports);

}  // namespace lt
