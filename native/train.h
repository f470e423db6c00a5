// The training loop in native code: each batch's gather, forward, loss, backward and SGD step run in one call on
// a worker thread (libuv's pool), with the running metrics accumulated natively and read when JS asks.
#pragma once

#include <napi.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "data.h"
#include "distributed.h"
#include "errors.h"
#include "functional.h"

namespace lt {

struct GraphStep;  // train.cc: a captured CUDA graph of the training step
class HoldWrap;    // hold.h
class WorkHold;

class TrainerWrap : public Wrap<TrainerWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static TrainerWrap* From(const Napi::Value& value, const char* what);
  // new Trainer(net, optimizer, lossOptions, {cudaGraph}, group | null): `net` a libtorch net (Module), or a net
  // written in JS as its forward traced in training mode (ScriptModule, lib/jit.ts).
  explicit TrainerWrap(const Napi::CallbackInfo& info);

  // Everything a worker needs, shared so that it outlives the JS objects if they are collected mid-run.
  struct State {
    std::shared_ptr<torch::nn::Module> module;  // a libtorch net, run by net
    torch::nn::AnyModule net;
    // Or a net written in JS, traced: TorchScript's interpreter runs its forward. Its batches are never split across
    // threads (batch norm's statistics are the whole batch's, as in PyTorch); libtorch's own threads run its ops.
    std::shared_ptr<torch::jit::Module> traced;
    std::vector<at::Tensor> params;  // the parameters trained, of either kind of net
    at::Tensor Forward(const at::Tensor& x) {
      if (!traced) return net.forward(x);
      return traced->forward({channels_last && x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x}).toTensor();
    }
    // A traced net on the CPU with 4-D parameters (convolutions) and channels_last set: from its first run those
    // parameters, and the inputs, are channels-last (NHWC), which oneDNN's convolutions take without reordering to
    // and from their blocked layout at every call (GoogLeNet's step: ~1.35x faster at 1 and 2 threads), until
    // restoreLayout() (train_ch6's end) puts them back in PyTorch's default layout. Not with DistributedDataParallel.
    bool channels_last = false;
    bool in_channels_last = false;
    std::shared_ptr<torch::optim::SGD> optimizer;
    CrossEntropySpec loss;
    // DistributedDataParallel: the gradients are averaged across this group's ranks before each SGD step.
    std::shared_ptr<Collectives> group;
    std::atomic<bool> cancelled{false};
    std::atomic<bool> running{false};
    // CUDA: the step captured as CUDA graphs, replayed for batches of their shape (train.cc); none while warming
    // up, and never when cuda_graph is false or a capture failed. The metrics' sums below stay the same tensors
    // (reset in place) because the graphs add into them.
    bool cuda_graph = true;
    std::vector<std::shared_ptr<GraphStep>> graphs;  // one per batch shape met (the last batch is often smaller)
    std::map<int64_t, int64_t> eager_steps;           // per batch size, CUDA steps run eagerly: the warm-up
    // The side stream every capture runs on. One for all of a trainer's graphs: cuBLAS keeps a workspace per
    // stream it meets (64 MiB on an H200 with libtorch 2.11), so a new pool stream per capture cost that again for the
    // last batch's shape (seen on the first GPU run).
    std::optional<c10::Stream> graph_stream;
    // Running sums since the last resetMetrics(): on the net's device, so a CUDA run never waits for them.
    at::Tensor loss_sum;
    at::Tensor correct;
    int64_t count = 0;
  };
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Metrics(const Napi::CallbackInfo& info);
  Napi::Value ResetMetrics(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value RestoreLayout(const Napi::CallbackInfo& info);
  void CheckIdle(Napi::Env env) const;
  // The hold a run works under: `lent` (the training's) when it covers the net, else one of its own.
  std::unique_ptr<WorkHold> MakeHold(Napi::Env env, HoldWrap* lent) const;

  std::shared_ptr<State> state_;
};

void InitTrain(Napi::Env env, Napi::Object exports);

}  // namespace lt
