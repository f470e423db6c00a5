#include "train.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "compat.h"
#include "errors.h"
#include "module.h"
#include "optimizer.h"
#include "tensor.h"

namespace lt {

namespace {

using Clock = std::chrono::steady_clock;

c10::Device DeviceOf(const torch::nn::Module& module) {
  const auto params = module.parameters();
  return params.empty() ? c10::Device(c10::kCPU) : params.front().device();
}

// Waits for queued CUDA work so that timings cover it; a no-op on the CPU.
void Synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Below this many examples per slice, splitting a batch across threads costs more than it saves.
constexpr int64_t kMinSlice = 16;

// The number of threads to split a batch of n examples across: on the CPU, one slice per thread the user allows
// (libtorch's own threading inside LeNet's small ops scales poorly; whole slices on separate cores scale well).
int64_t SliceCount(const c10::Device& device, int64_t n) {
  if (!device.is_cpu()) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(Threads(), n / kMinSlice));
}

// Runs fn(slice, begin, end) for k slices of [0, n): slice 0 on this thread, the others on threads of their own,
// each with one libtorch thread. Rethrows the first failure after all have finished.
template <typename Fn>
void ForEachSlice(int64_t k, int64_t n, Fn&& fn) {
  if (k <= 1) {
    at::set_num_threads(Threads());
    fn(0, 0, n);
    return;
  }
  std::vector<std::string> errors(k);
  auto run = [&](int64_t i) {
    at::set_num_threads(1);
    CaptureError(&errors[i], [&] { fn(i, i * n / k, (i + 1) * n / k); });
  };
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < k; ++i) threads.emplace_back(run, i);
  run(0);
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (!e.empty()) throw std::runtime_error(e);
  }
}

// One SGD step on one batch, metrics added to the running sums. The gradients are set to None first (no memset;
// backward writes them fresh), as PyTorch's zero_grad() does by default. On the CPU the batch is split across
// threads that share the parameters: each back-propagates its slice's summed loss divided by the batch's count,
// so the accumulated gradients are exactly those of the batch's mean loss.
void TrainBatch(TrainerWrap::State& s, at::Tensor x, at::Tensor y, const c10::Device& device) {
  if (x.device() != device) x = x.to(device);
  if (y.device() != device) y = y.to(device);
  for (auto& group : s.optimizer->param_groups()) ZeroGrad(group.params(), /*set_to_none=*/true);
  const auto n = y.size(0);
  const bool splittable = !s.loss.weight.defined() && GetIf<torch::enumtype::kMean>(&s.loss.reduction);
  const int64_t k = splittable ? SliceCount(device, n) : 1;
  std::vector<at::Tensor> losses(k), corrects(k);
  auto sum_spec = s.loss;
  sum_spec.reduction = torch::kSum;
  // The mean's denominator: targets that are not ignored.
  const double counted = k > 1 ? static_cast<double>(y.ne(s.loss.ignore_index).sum().item<int64_t>()) : 1.0;
  ForEachSlice(k, n, [&](int64_t i, int64_t begin, int64_t end) {
    const auto xs = k > 1 ? x.slice(0, begin, end) : x;
    const auto ys = k > 1 ? y.slice(0, begin, end) : y;
    const auto y_hat = s.net.forward(xs);
    const auto loss = k > 1 ? CrossEntropy(y_hat, ys, sum_spec) : CrossEntropy(y_hat, ys, s.loss);
    (k > 1 ? loss / counted : loss).backward();
    torch::NoGradGuard no_grad;
    // d2l sums loss * batch size, so the epoch figure is a mean over examples.
    losses[i] = k > 1 ? loss.detach() : loss.detach() * static_cast<double>(n);
    corrects[i] = y_hat.argmax(1).eq(ys).sum();
  });
  s.optimizer->step();
  torch::NoGradGuard no_grad;
  if (!s.loss_sum.defined() || s.loss_sum.device() != device) {
    s.loss_sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(device));
    s.correct = torch::zeros({}, torch::dtype(torch::kInt64).device(device));
  }
  for (int64_t i = 0; i < k; ++i) {
    s.loss_sum.add_(losses[i]);
    s.correct.add_(corrects[i]);
  }
  s.count += n;
}

// Marks the net busy for the length of a run, so that JS cannot change it from the main thread meanwhile.
class BusyScope {
 public:
  explicit BusyScope(std::shared_ptr<torch::nn::Module> module) : module_(std::move(module)) { SetBusy(*module_, true); }
  ~BusyScope() { SetBusy(*module_, false); }

 private:
  std::shared_ptr<torch::nn::Module> module_;
};

void CheckIdle(Napi::Env env, const torch::nn::Module& module) {
  if (IsBusy(module)) {
    throw Napi::Error::New(env, "This module is already being trained or evaluated; wait for that to finish");
  }
}

}  // namespace

// Runs batches [first, last) of a data set, or one given batch, off the main thread.
class TrainWorker : public Napi::AsyncWorker {
 public:
  TrainWorker(Napi::Object receiver, TrainerWrap* trainer)
      : Napi::AsyncWorker(receiver.Env(), "lenet-torch:train"),
        deferred_(Napi::Promise::Deferred::New(receiver.Env())),
        receiver_(Napi::Persistent(receiver)),
        trainer_(trainer),
        state_(trainer->state_),
        busy_(std::make_unique<BusyScope>(trainer->state_->module)) {
    trainer_->running_ = true;
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

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    std::string message;
    const bool ok = CaptureError(&message, [&] {
      auto& s = *state_;
      const auto device = DeviceOf(*s.module);
      const auto start = Clock::now();
      if (x_.defined()) {
        TrainBatch(s, x_, y_, device);
        done_ = 1;
      } else {
        const auto n = source_.size();
        for (int64_t b = first_; b < last_ && !s.cancelled; ++b) {
          auto [x, y] = MakeBatch(source_, order_, b * batch_size_, std::min(n, (b + 1) * batch_size_));
          TrainBatch(s, std::move(x), std::move(y), device);
          ++done_;
        }
      }
      Synchronize(device);
      seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
    });
    if (!ok) SetError(message);
  }

  void OnOK() override {
    Finish();
    auto result = Napi::Object::New(Env());
    result.Set("seconds", seconds_);
    result.Set("batches", Napi::Number::New(Env(), static_cast<double>(done_)));
    result.Set("cancelled", state_->cancelled.load());
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override {
    Finish();
    deferred_.Reject(error.Value());
  }

 private:
  void Finish() {
    busy_.reset();
    trainer_->running_ = false;
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference receiver_;  // keeps the trainer's JS object, and so trainer_, alive
  TrainerWrap* trainer_;
  std::shared_ptr<TrainerWrap::State> state_;
  std::unique_ptr<BusyScope> busy_;
  BatchSource source_;
  at::Tensor order_, x_, y_;
  int64_t batch_size_ = 0, first_ = 0, last_ = 0, done_ = 0;
  double seconds_ = 0;
};

Napi::Function TrainerWrap::Init(Napi::Env env) {
  return DefineClass(env, "Trainer",
                     {
                         InstanceMethod<&TrainerWrap::Run>("run"),
                         InstanceMethod<&TrainerWrap::Step>("step"),
                         InstanceMethod<&TrainerWrap::Metrics>("metrics"),
                         InstanceMethod<&TrainerWrap::ResetMetrics>("resetMetrics"),
                         InstanceMethod<&TrainerWrap::Cancel>("cancel"),
                     });
}

TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
  auto* net = ModuleWrap::From(info[0], "net");
  auto* optimizer = SGDWrap::From(info[1], "optimizer");
  state_ = std::make_shared<State>();
  state_->module = net->module();
  state_->net = net->Any();
  state_->optimizer = optimizer->optimizer();
  state_->loss = ParseCrossEntropy(info[2].As<Napi::Object>());
}

// run(source, order | null, batchSize, firstBatch, lastBatch) -> Promise<{seconds, batches, cancelled}>
Napi::Value TrainerWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (running_) throw Napi::Error::New(env, "This trainer is already running");
  CheckIdle(env, *state_->module);
  auto source = ParseSource(info[0]);
  at::Tensor order;
  if (info[1].IsObject()) order = TensorWrap::From(info[1], "order");
  auto* worker = new TrainWorker(Value(), this);
  worker->SetBatches(std::move(source), order, info[2].As<Napi::Number>().Int64Value(),
                     info[3].As<Napi::Number>().Int64Value(), info[4].As<Napi::Number>().Int64Value());
  auto promise = worker->Promise();
  worker->Queue();
  return promise;
}

// step(X, y) -> Promise<{seconds, batches, cancelled}>: one batch given as tensors.
Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (running_) throw Napi::Error::New(env, "This trainer is already running");
  CheckIdle(env, *state_->module);
  const auto& x = TensorWrap::From(info[0], "X");
  const auto& y = TensorWrap::From(info[1], "y");
  auto* worker = new TrainWorker(Value(), this);
  worker->SetBatch(x, y);
  auto promise = worker->Promise();
  worker->Queue();
  return promise;
}

// metrics() -> [loss sum, correct, count] since resetMetrics(). Waits for the device on CUDA.
Napi::Value TrainerWrap::Metrics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&] {
    auto result = Napi::Array::New(env, 3);
    const auto& s = *state_;
    result.Set(0u, s.loss_sum.defined() ? s.loss_sum.item<double>() : 0.0);
    result.Set(1u, s.correct.defined() ? static_cast<double>(s.correct.item<int64_t>()) : 0.0);
    result.Set(2u, static_cast<double>(s.count));
    return result;
  });
}

Napi::Value TrainerWrap::ResetMetrics(const Napi::CallbackInfo& info) {
  if (running_) throw Napi::Error::New(info.Env(), "resetMetrics() while the trainer is running");
  state_->loss_sum = at::Tensor();
  state_->correct = at::Tensor();
  state_->count = 0;
  return info.Env().Undefined();
}

// Stops a run between batches; the run resolves with cancelled: true. Sticky for this trainer.
Napi::Value TrainerWrap::Cancel(const Napi::CallbackInfo& info) {
  state_->cancelled = true;
  return info.Env().Undefined();
}

namespace {

// Counts correct predictions over a whole data set, in order, in eval-free no-grad mode, off the main thread.
class EvaluateWorker : public Napi::AsyncWorker {
 public:
  EvaluateWorker(Napi::Env env, ModuleWrap* net, BatchSource source, int64_t batch_size)
      : Napi::AsyncWorker(env, "lenet-torch:evaluate"),
        deferred_(Napi::Promise::Deferred::New(env)),
        module_(net->module()),
        net_(net->Any()),
        busy_(std::make_unique<BusyScope>(net->module())),
        source_(std::move(source)),
        batch_size_(batch_size) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    std::string message;
    const bool ok = CaptureError(&message, [&] {
      const auto device = DeviceOf(*module_);
      auto correct = torch::zeros({}, torch::dtype(torch::kInt64).device(device));
      const auto n = source_.size();
      for (int64_t start = 0; start < n; start += batch_size_) {
        auto [x, y] = MakeBatch(source_, at::Tensor(), start, std::min(n, start + batch_size_));
        if (x.device() != device) x = x.to(device);
        if (y.device() != device) y = y.to(device);
        const int64_t k = SliceCount(device, y.size(0));
        std::vector<at::Tensor> counts(k);
        ForEachSlice(k, y.size(0), [&](int64_t i, int64_t begin, int64_t end) {
          torch::NoGradGuard no_grad;  // grad mode is per thread
          counts[i] = net_.forward(x.slice(0, begin, end)).argmax(1).eq(y.slice(0, begin, end)).sum();
        });
        for (const auto& c : counts) correct.add_(c);
      }
      correct_ = static_cast<double>(correct.item<int64_t>());
      count_ = static_cast<double>(n);
    });
    if (!ok) SetError(message);
  }

  void OnOK() override {
    busy_.reset();
    auto result = Napi::Array::New(Env(), 2);
    result.Set(0u, correct_);
    result.Set(1u, count_);
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override {
    busy_.reset();
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<torch::nn::Module> module_;
  torch::nn::AnyModule net_;
  std::unique_ptr<BusyScope> busy_;
  BatchSource source_;
  int64_t batch_size_;
  double correct_ = 0, count_ = 0;
};

// evaluate(net, source, batchSize) -> Promise<[correct, count]>
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* net = ModuleWrap::From(info[0], "net");
  CheckIdle(env, *net->module());
  auto* worker = new EvaluateWorker(env, net, ParseSource(info[1]), info[2].As<Napi::Number>().Int64Value());
  auto promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitTrain(Napi::Env env, Napi::Object exports) {
  auto trainer = TrainerWrap::Init(env);
  Data(env).trainer = Napi::Persistent(trainer);
  exports.Set("Trainer", trainer);
  exports.Set("evaluate", Napi::Function::New<Evaluate>(env, "evaluate"));
}

}  // namespace lt
