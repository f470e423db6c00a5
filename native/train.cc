#include "train.h"

#include <chrono>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common.h"
#include "compat.h"
#include "hold.h"
#include "jit.h"
#include "module.h"
#include "optimizer.h"
#include "tensor.h"
#include "threads.h"
#include "worker.h"

#ifdef LT_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace lt {

namespace {

using Clock = std::chrono::steady_clock;

c10::Device DeviceOf(const TrainerWrap::State& s) {
  return s.params.empty() ? c10::Device(c10::kCPU) : s.params.front().device();
}

// Waits for queued CUDA work so that timings cover it; a no-op on the CPU.
void Synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Below this many examples per slice, splitting a batch across threads costs more than it saves.
constexpr int64_t kMinSlice = 16;

// The number of slices to split a batch of n examples into: on the CPU, one per thread the user allows
// (libtorch's own threading inside LeNet's small ops scales poorly; whole slices on separate cores scale well).
int64_t SliceCount(const c10::Device& device, int64_t n) {
  if (!device.is_cpu()) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(Threads(), n / kMinSlice));
}

// One batch: rows [start, end) of a data set in a given order, or tensors given whole.
struct Batch {
  const BatchSource* source = nullptr;
  at::Tensor order;
  int64_t start = 0, end = 0;
  at::Tensor x, y;

  int64_t size() const { return source ? end - start : y.size(0); }

  // Inputs and targets [begin, stop) of the batch, on `device`: each slice's thread gathers and converts its own.
  std::pair<at::Tensor, at::Tensor> Rows(int64_t begin, int64_t stop, const c10::Device& device) const {
    at::Tensor xs, ys;
    if (source) {
      std::tie(xs, ys) = MakeBatch(*source, order, start + begin, start + stop);
    } else if (begin == 0 && stop == size()) {
      xs = x;
      ys = y;
    } else {
      xs = x.slice(0, begin, stop);
      ys = y.slice(0, begin, stop);
    }
    if (xs.device() != device) xs = xs.to(device);
    if (ys.device() != device) ys = ys.to(device);
    return {xs, ys};
  }

  // All the targets, where they are stored.
  at::Tensor Targets() const {
    if (!source) return y;
    return order.defined() ? source->y.index_select(0, order.slice(0, start, end)) : source->y.slice(0, start, end);
  }
};

// The metrics' running sums, on the device.
void EnsureMetrics(TrainerWrap::State& s, const c10::Device& device) {
  if (!s.loss_sum.defined() || s.loss_sum.device() != device) {
    s.loss_sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(device));
    s.correct = torch::zeros({}, torch::dtype(torch::kInt64).device(device));
  }
}

// One whole-batch step on given tensors (no slices): what a CUDA graph captures.
void StepWhole(TrainerWrap::State& s, const at::Tensor& x, const at::Tensor& y) {
  for (auto& group : s.optimizer->param_groups()) ZeroGrad(group.params(), /*set_to_none=*/true);
  const auto y_hat = s.Forward(x);
  const auto loss = CrossEntropy(y_hat, y, s.loss);
  loss.backward();
  if (s.group) AverageGradients(*s.group, s.params);  // DistributedDataParallel (distributed.h)
  s.optimizer->step();
  torch::NoGradGuard no_grad;
  s.loss_sum.add_(loss.detach() * static_cast<double>(y.size(0)));
  s.correct.add_(y_hat.argmax(1).eq(y).sum());
}

}  // namespace

#ifdef LT_WITH_CUDA
// The training step captured once as a CUDA graph (forward, loss, backward, SGD, metrics: hundreds of kernel
// launches) and replayed for each batch copied into its static inputs. Valid while the batch shape, the parameters'
// memory and the optimizer's settings stay those it was captured with.
struct GraphStep {
  at::Tensor x, y;  // the static inputs the graph reads
  at::cuda::CUDAGraph graph;
  std::vector<const void*> params;
  std::vector<double> lrs;

  static std::vector<const void*> Params(TrainerWrap::State& s) {
    std::vector<const void*> out;
    for (const auto& p : s.params) out.push_back(p.data_ptr());
    return out;
  }
  static std::vector<double> Lrs(TrainerWrap::State& s) {
    std::vector<double> out;
    for (auto& group : s.optimizer->param_groups()) {
      const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
      out.insert(out.end(), {o.lr(), o.momentum(), o.dampening(), o.weight_decay(), o.nesterov() ? 1.0 : 0.0});
    }
    return out;
  }
  // Whether the parameters and the optimizer's settings are still those the graph was captured with.
  bool Current(TrainerWrap::State& s) const { return Params(s) == params && Lrs(s) == lrs; }
  bool Fits(const at::Tensor& bx, const at::Tensor& by) const {
    return bx.sizes() == x.sizes() && bx.scalar_type() == x.scalar_type() && by.sizes() == y.sizes() &&
           by.scalar_type() == y.scalar_type();
  }
};
#endif

namespace {

// Batches of a shape run eagerly before its capture: libtorch's lazy set-up (cuBLAS handles and workspaces, cuDNN
// plans, the optimizer's state, the caching allocator's blocks) must happen outside the graph. The last of them runs
// on the capturing thread's side stream right before the capture, as PyTorch's docs ask.
constexpr int64_t kGraphWarmup = 2;

// A CUDA step through a captured graph, capturing it when due; false when the step must run eagerly (warm-up, no
// graph support, or a capture libtorch refused: then graphs stay off for this trainer).
bool ReplayGraph(TrainerWrap::State& s, const at::Tensor& x, const at::Tensor& y, const c10::Device& device) {
#ifdef LT_WITH_CUDA
  // Not with DistributedDataParallel: its all-reduce waits on the host, which a capture cannot hold.
  if (!s.cuda_graph || !device.is_cuda() || s.group) return false;
  // Parameters moved or replaced, or the learning rate changed: every graph is stale.
  if (!s.graphs.empty() && !s.graphs.front()->Current(s)) {
    s.graphs.clear();
    s.eager_steps.clear();
  }
  std::shared_ptr<GraphStep> graph;
  for (const auto& g : s.graphs) {
    if (g->Fits(x, y)) graph = g;
  }
  if (!graph) {
    if (++s.eager_steps[y.size(0)] < kGraphWarmup) return false;
    graph = std::make_shared<GraphStep>();
    bool stepped = false, capturing = false;
    try {
      // On a side stream (a capture cannot use the default one) that first waits for the work queued so far: this
      // batch's step, eagerly (the last warm-up), then the same step on the static inputs, captured, not run.
      const auto current = c10::cuda::getCurrentCUDAStream(device.index());
      if (!s.graph_stream || s.graph_stream->device() != device) {
        s.graph_stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index()).unwrap();
      }
      const c10::cuda::CUDAStream side(*s.graph_stream);
      at::cuda::CUDAEvent ready;
      ready.record(current);
      ready.block(side);
      {
        c10::cuda::CUDAStreamGuard guard(side);
        StepWhole(s, x, y);
        stepped = true;
        graph->x = x.clone();
        graph->y = y.clone();
        capturing = true;
        graph->graph.capture_begin();
        StepWhole(s, graph->x, graph->y);
        capturing = false;
        graph->graph.capture_end();
      }
      at::cuda::CUDAEvent done;
      done.record(side);
      done.block(current);
    } catch (const std::exception&) {
      // Not capturable here (an op that syncs with the host, say): eager steps from now on. A capture left open is
      // ended (its graph dropped); the gradients it left are replaced by the next step's. The batch counts as
      // trained when its eager step ran; else the caller runs it (and reports the error if that fails too).
      if (capturing) {
        try {
          graph->graph.capture_end();
        } catch (const std::exception&) {
        }
      }
      s.cuda_graph = false;
      s.graphs.clear();
      return stepped;
    }
    graph->params = GraphStep::Params(s);
    graph->lrs = GraphStep::Lrs(s);
    s.graphs.push_back(graph);
    return true;
  }
  graph->x.copy_(x, /*non_blocking=*/true);
  graph->y.copy_(y, /*non_blocking=*/true);
  graph->graph.replay();
  return true;
#else
  return false;
#endif
}

// One SGD step on one batch, metrics added to the running sums. The gradients are set to None first (no memset;
// backward writes them fresh), as PyTorch's zero_grad() does by default. On the CPU the batch is split across
// threads that share the parameters: each gathers its slice, back-propagates the slice's summed loss divided by the
// batch's count of counted (not ignored) targets, so the accumulated gradients are exactly those of the batch's mean
// loss.
void TrainBatch(TrainerWrap::State& s, const Batch& batch, const c10::Device& device) {
  EnsureMetrics(s, device);
  const auto n = batch.size();
  if (device.is_cuda()) {
    const auto [x, y] = batch.Rows(0, n, device);
    if (!ReplayGraph(s, x, y, device)) StepWhole(s, x, y);
    s.count += n;
    return;
  }
  for (auto& group : s.optimizer->param_groups()) ZeroGrad(group.params(), /*set_to_none=*/true);
  const bool splittable = !s.traced && !s.loss.weight.defined() && GetIf<torch::enumtype::kMean>(&s.loss.reduction);
  const int64_t k = splittable ? SliceCount(device, n) : 1;
  std::vector<at::Tensor> losses(k), corrects(k);
  auto sum_spec = s.loss;
  sum_spec.reduction = torch::kSum;
  // The mean's denominator: targets that are not ignored.
  const double counted =
      k > 1 ? static_cast<double>(batch.Targets().ne(s.loss.ignore_index).sum().item<int64_t>()) : 1.0;
  ForEachSlice(k, n, [&](int64_t i, int64_t begin, int64_t end) {
    const auto [xs, ys] = batch.Rows(begin, end, device);
    const auto y_hat = s.Forward(xs);
    const auto loss = k > 1 ? CrossEntropy(y_hat, ys, sum_spec) : CrossEntropy(y_hat, ys, s.loss);
    (k > 1 ? loss / counted : loss).backward();
    torch::NoGradGuard no_grad;
    losses[i] = loss.detach();
    corrects[i] = y_hat.argmax(1).eq(ys).sum();
  });
  if (s.group) AverageGradients(*s.group, s.params);  // DistributedDataParallel (distributed.h)
  s.optimizer->step();
  torch::NoGradGuard no_grad;
  // d2l adds the batch's mean loss times the batch size, whatever the thread count: with k slices the mean is
  // their summed loss over the counted targets.
  auto mean = losses[0];
  for (int64_t i = 1; i < k; ++i) mean = mean + losses[i];
  if (k > 1) mean = mean / counted;
  s.loss_sum.add_(mean * static_cast<double>(n));
  for (int64_t i = 0; i < k; ++i) s.correct.add_(corrects[i]);
  s.count += n;
}

// Whether a traced forward runs batch norm.
bool HasBatchNorm(torch::jit::Module& module) {
  std::vector<const torch::jit::Block*> blocks{module.get_method("forward").graph()->block()};
  while (!blocks.empty()) {
    const auto* block = blocks.back();
    blocks.pop_back();
    for (const auto* node : block->nodes()) {
      const std::string kind = node->kind().toQualString();
      if (kind.find("batch_norm") != std::string::npos) return true;
      for (const auto* inner : node->blocks()) blocks.push_back(inner);
    }
  }
  return false;
}

// A channels_last trainer's 4-D parameters (and their gradients) in `format`. Each is given new storage (set_data),
// so the optimizer, the traced module and JS's Tensors keep seeing the same tensors.
void SetLayout(TrainerWrap::State& s, at::MemoryFormat format) {
  torch::NoGradGuard no_grad;
  for (auto& p : s.params) {
    if (p.dim() != 4) continue;
    if (!p.is_contiguous(format)) p.set_data(p.contiguous(format));
    auto& grad = p.mutable_grad();
    if (grad.defined() && !grad.is_contiguous(format)) grad = grad.contiguous(format);
  }
  s.in_channels_last = format == at::MemoryFormat::ChannelsLast;
}

// Runs batches [first, last) of a data set, or one given batch, off the main thread; stops between batches when
// cancelled.
class TrainWorker : public PromiseWorker {
 public:
  TrainWorker(Napi::Env env, std::shared_ptr<TrainerWrap::State> state, std::unique_ptr<WorkHold> hold)
      : PromiseWorker(env, "lenet-torch:train", state->traced ? Thread::kComputeLong : Thread::kLibuv), state_(std::move(state)), hold_(std::move(hold)) {
    state_->running = true;
  }

  void SetBatches(BatchSource source, at::Tensor order, int64_t batch_size, int64_t first, int64_t last) {
    source_ = std::move(source);
    order_ = std::move(order);
    batch_size_ = batch_size;
    first_ = first;
    last_ = last;
  }

  void SetBatch(at::Tensor x, at::Tensor y) {
    x_ = std::move(x);
    y_ = std::move(y);
  }

 protected:
  void Run() override {
    auto& s = *state_;
    const auto device = DeviceOf(s);
    if (s.channels_last && !s.in_channels_last) SetLayout(s, at::MemoryFormat::ChannelsLast);
    const auto start = Clock::now();
    if (x_.defined()) {
      Batch batch;
      batch.x = x_;
      batch.y = y_;
      TrainBatch(s, batch, device);
      done_ = 1;
    } else {
      const auto n = source_.size();
      Batch batch;
      batch.source = &source_;
      batch.order = order_;
      for (int64_t b = first_; b < last_ && !s.cancelled && !Stopping(); ++b) {
        batch.start = b * batch_size_;
        batch.end = std::min(n, (b + 1) * batch_size_);
        TrainBatch(s, batch, device);
        ++done_;
      }
    }
    Synchronize(device);
    seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
  }

  Napi::Value Result() override {
    auto result = Napi::Object::New(Env());
    result.Set("seconds", seconds_);
    result.Set("batches", Napi::Number::New(Env(), static_cast<double>(done_)));
    result.Set("cancelled", state_->cancelled.load());
    return result;
  }

  void Release() override {
    hold_.reset();
    state_->running = false;
  }

 private:
  std::shared_ptr<TrainerWrap::State> state_;
  std::unique_ptr<WorkHold> hold_;
  BatchSource source_;
  at::Tensor order_, x_, y_;
  int64_t batch_size_ = 0, first_ = 0, last_ = 0, done_ = 0;
  double seconds_ = 0;
};

}  // namespace

Napi::Function TrainerWrap::Init(Napi::Env env) {
  return DefineClass(env, "Trainer",
                     {
                         Method<&TrainerWrap::Run>("run"),
                         Method<&TrainerWrap::Step>("step"),
                         Method<&TrainerWrap::Metrics>("metrics"),
                         Method<&TrainerWrap::ResetMetrics>("resetMetrics"),
                         Method<&TrainerWrap::Cancel>("cancel"),
                         Method<&TrainerWrap::RestoreLayout>("restoreLayout"),
                     });
}

TrainerWrap* TrainerWrap::From(const Napi::Value& value, const char* what) {
  return UnwrapAs(value, Data(value.Env()).trainer, what, "a native Trainer");
}

TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : Wrap<TrainerWrap>(info) {
  Construct(info, [&] {
    auto* optimizer = SGDWrap::From(info[1], "optimizer");
    state_ = std::make_shared<State>();
    if (auto* traced = ScriptModuleWrap::FromOptional(info[0])) {
      state_->traced = std::make_shared<torch::jit::Module>(traced->module());
      for (const auto& p : state_->traced->parameters()) state_->params.push_back(p);
    } else {
      auto* net = ModuleWrap::From(info[0], "net");
      state_->module = net->module();
      state_->net = net->Any();
      state_->params = state_->module->parameters();
    }
    state_->optimizer = optimizer->optimizer();
    state_->loss = ParseCrossEntropy(info[2].As<Napi::Object>());
    state_->cuda_graph = info[3].As<Napi::Object>().Get("cudaGraph").ToBoolean();
    if (auto* group = ProcessGroupWrap::FromOptional(info[4], "group")) state_->group = group->group(info.Env());
    // channelsLast: true, false, or undefined for "unless the net has batch norm" (measured: GoogLeNet's step ~1.3x
    // faster channels-last at 1 and 2 threads; ResNet's, with batch norm after every convolution, ~8 % slower at 2).
    const auto channels_last = info[3].As<Napi::Object>().Get("channelsLast");
    if (state_->traced && !state_->group &&
        (channels_last.IsUndefined() ? !HasBatchNorm(*state_->traced) : channels_last.ToBoolean().Value())) {
      for (const auto& p : state_->params) {
        if (p.dim() == 4 && p.device().is_cpu()) state_->channels_last = true;
      }
    }
  });
}

std::unique_ptr<WorkHold> TrainerWrap::MakeHold(Napi::Env env, HoldWrap* lent) const {
  const char* activity = "trained by train_ch6";
  if (state_->traced) {
    std::vector<at::Tensor> tensors = state_->params;
    for (const auto& b : state_->traced->buffers()) tensors.push_back(b);
    return std::make_unique<WorkHold>(env, lent, tensors, activity);
  }
  return std::make_unique<WorkHold>(env, lent, *state_->module, activity);
}

void TrainerWrap::CheckIdle(Napi::Env env) const {
  if (state_->running) throw Napi::Error::New(env, "lenet-torch: this trainer is already running");
}

// run(source, order | null, batchSize, firstBatch, lastBatch, hold | null) -> Promise<{seconds, batches, cancelled}>
// Runs under `hold` when it covers the net, else holds the net itself.
Napi::Value TrainerWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  auto source = ParseSource(info[0]);
  at::Tensor order;
  if (!info[1].IsNull() && !info[1].IsUndefined()) order = TensorWrap::From(info[1], "order");
  const auto batch_size = info[2].As<Napi::Number>().Int64Value();
  const auto first = info[3].As<Napi::Number>().Int64Value();
  const auto last = info[4].As<Napi::Number>().Int64Value();
  auto* lent = HoldWrap::FromOptional(info[5], "hold");
  // Arguments first: nothing is held unless the run is queued.
  auto* worker = new TrainWorker(env, state_, MakeHold(env, lent));
  worker->SetBatches(std::move(source), std::move(order), batch_size, first, last);
  return worker->Start();
}

// step(X, y, hold | null) -> Promise<{seconds, batches, cancelled}>: one batch given as tensors.
Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  const auto& x = TensorWrap::From(info[0], "X");
  const auto& y = TensorWrap::From(info[1], "y");
  auto* lent = HoldWrap::FromOptional(info[2], "hold");
  auto* worker = new TrainWorker(env, state_, MakeHold(env, lent));
  worker->SetBatch(x, y);
  return worker->Start();
}

// restoreLayout(): a channels_last trainer's parameters back in the default layout (train_ch6's last call).
Napi::Value TrainerWrap::RestoreLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  if (state_->in_channels_last) SetLayout(*state_, at::MemoryFormat::Contiguous);
  return env.Undefined();
}

// metrics() -> [loss sum, correct, count] since resetMetrics(). Waits for the device on CUDA.
Napi::Value TrainerWrap::Metrics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckIdle(env);
  auto result = Napi::Array::New(env, 3);
  const auto& s = *state_;
  result.Set(0u, s.loss_sum.defined() ? s.loss_sum.item<double>() : 0.0);
  result.Set(1u, s.correct.defined() ? static_cast<double>(s.correct.item<int64_t>()) : 0.0);
  result.Set(2u, static_cast<double>(s.count));
  return result;
}

Napi::Value TrainerWrap::ResetMetrics(const Napi::CallbackInfo& info) {
  CheckIdle(info.Env());
  // In place: captured CUDA graphs add into these very tensors.
  if (state_->loss_sum.defined()) state_->loss_sum.zero_();
  if (state_->correct.defined()) state_->correct.zero_();
  state_->count = 0;
  return info.Env().Undefined();
}

// Stops a run after its current batch (and an evaluation given this trainer); the run resolves with
// cancelled: true. Sticky for this trainer.
Napi::Value TrainerWrap::Cancel(const Napi::CallbackInfo& info) {
  state_->cancelled = true;
  return info.Env().Undefined();
}

namespace {

// Counts correct predictions over a whole data set, in order, in no-grad mode, off the main thread. The net: a
// libtorch one (its batches split across threads as in training), or a JS one traced in eval mode (whole batches).
class EvaluateWorker : public PromiseWorker {
 public:
  EvaluateWorker(Napi::Env env, std::shared_ptr<torch::nn::Module> module, torch::nn::AnyModule net,
                 std::shared_ptr<torch::jit::Module> traced, BatchSource source, int64_t batch_size,
                 std::shared_ptr<TrainerWrap::State> canceller, std::unique_ptr<WorkHold> hold)
      : PromiseWorker(env, "lenet-torch:evaluate", traced ? Thread::kComputeLong : Thread::kLibuv),
        module_(std::move(module)),
        net_(std::move(net)),
        traced_(std::move(traced)),
        source_(std::move(source)),
        batch_size_(batch_size),
        canceller_(std::move(canceller)),
        hold_(std::move(hold)) {}

 protected:
  void Run() override {
    c10::Device device(c10::kCPU);
    if (traced_) {
      for (const auto& p : traced_->parameters()) {
        device = p.device();
        break;
      }
    } else {
      const auto ps = module_->parameters();
      if (!ps.empty()) device = ps.front().device();
    }
    auto correct = torch::zeros({}, torch::dtype(torch::kInt64).device(device));
    const auto n = source_.size();
    int64_t seen = 0;
    for (int64_t start = 0; start < n && !Cancelled(); start += batch_size_) {
      auto [x, y] = MakeBatch(source_, at::Tensor(), start, std::min(n, start + batch_size_));
      if (x.device() != device) x = x.to(device);
      if (y.device() != device) y = y.to(device);
      const int64_t k = traced_ ? 1 : SliceCount(device, y.size(0));
      std::vector<at::Tensor> counts(k);
      ForEachSlice(k, y.size(0), [&](int64_t i, int64_t begin, int64_t end) {
        torch::NoGradGuard no_grad;  // grad mode is per thread
        const auto xs = x.slice(0, begin, end);
        const auto out = traced_ ? traced_->forward({xs}).toTensor() : net_.forward(xs);
        counts[i] = out.argmax(1).eq(y.slice(0, begin, end)).sum();
      });
      for (const auto& c : counts) correct.add_(c);
      seen += y.size(0);
    }
    correct_ = static_cast<double>(correct.item<int64_t>());
    count_ = static_cast<double>(seen);
    cancelled_ = seen < n;
  }

  Napi::Value Result() override {
    auto result = Napi::Array::New(Env(), 3);
    result.Set(0u, correct_);
    result.Set(1u, count_);
    result.Set(2u, cancelled_);
    return result;
  }

  void Release() override { hold_.reset(); }

 private:
  bool Cancelled() const { return Stopping() || (canceller_ && canceller_->cancelled); }

  std::shared_ptr<torch::nn::Module> module_;
  torch::nn::AnyModule net_;
  std::shared_ptr<torch::jit::Module> traced_;
  BatchSource source_;
  int64_t batch_size_;
  std::shared_ptr<TrainerWrap::State> canceller_;
  std::unique_ptr<WorkHold> hold_;
  double correct_ = 0, count_ = 0;
  bool cancelled_ = false;
};

// evaluate(net, source, batchSize, trainer | null, hold | null) -> Promise<[correct, count, cancelled]>; stops early
// when the given trainer is cancelled. `net`: a Module, or a ScriptModule (a JS net traced in eval mode).
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<torch::nn::Module> module;
  torch::nn::AnyModule any;
  std::shared_ptr<torch::jit::Module> traced;
  if (auto* script = ScriptModuleWrap::FromOptional(info[0])) {
    traced = std::make_shared<torch::jit::Module>(script->module());
  } else {
    auto* net = ModuleWrap::From(info[0], "net");
    module = net->module();
    any = net->Any();
  }
  auto source = ParseSource(info[1]);
  const auto batch_size = info[2].As<Napi::Number>().Int64Value();
  std::shared_ptr<TrainerWrap::State> canceller;
  if (info[3].IsObject()) canceller = TrainerWrap::From(info[3], "trainer")->state();
  auto* lent = HoldWrap::FromOptional(info[4], "hold");
  const char* activity = "evaluated by evaluate_accuracy_gpu";
  std::unique_ptr<WorkHold> hold;
  if (traced) {
    std::vector<at::Tensor> tensors;
    for (const auto& p : traced->parameters()) tensors.push_back(p);
    for (const auto& b : traced->buffers()) tensors.push_back(b);
    hold = std::make_unique<WorkHold>(env, lent, tensors, activity);
  } else {
    hold = std::make_unique<WorkHold>(env, lent, *module, activity);
  }
  auto* worker = new EvaluateWorker(env, std::move(module), std::move(any), std::move(traced), std::move(source),
                                    batch_size, std::move(canceller), std::move(hold));
  return worker->Start();
}

}  // namespace

void InitTrain(Napi::Env env, Napi::Object exports) {
  auto trainer = TrainerWrap::Init(env);
  Data(env).trainer = Napi::Persistent(trainer);
  exports.Set("Trainer", trainer);
  exports.Set("evaluate", Function<&Evaluate>(env, "evaluate"));
}

}  // namespace lt
