#include "distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>

#ifdef LT_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "common.h"
#include "tensor.h"
#include "worker.h"

namespace lt {

// libtorch 1.13's backends are c10d::ProcessGroups; 2.x splits the user-facing ProcessGroup from the per-device
// Backend, which is what ProcessGroupGloo / ProcessGroupNCCL now derive from. Both give allreduce / broadcast /
// barrier returning a Work.
#if TORCH_VERSION_MAJOR >= 2
using C10dBackend = c10d::Backend;
#else
using C10dBackend = c10d::ProcessGroup;
#endif

struct Collectives {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<C10dBackend> backend;
  std::string name;
  int rank = 0;
  int size = 1;
};

namespace {

using Ms = std::chrono::milliseconds;

// The backends this build can make: Gloo when its headers were found (libgloo-dev), NCCL on a CUDA build whose
// libtorch has it (libnccl-dev for nccl.h).
std::vector<std::string> Backends() {
  std::vector<std::string> names;
#ifdef LT_WITH_GLOO
  names.emplace_back("gloo");
#endif
#ifdef LT_WITH_NCCL
  names.emplace_back("nccl");
#endif
  return names;
}

// libtorch's message for its own errors (1.13 throws some network failures as plain std::runtime_errors).
std::string Message(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  return torch_error ? TorchMessage(*torch_error) : e.what();
}

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

struct Rendezvous {
  std::string backend, host;
  int port = 0, rank = 0, size = 1;
  Ms timeout{0};
};

// The store every rank meets at (rank 0 serves it), then a check that all ranks agree on the world size: each
// rank r > 0 posts its own, and rank 0 compares them in order, so a mismatch is an Error on both sides instead of
// a timeout.
c10::intrusive_ptr<c10d::Store> MeetAt(const Rendezvous& r) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(r.port);
  opts.isServer = r.rank == 0;
  opts.numWorkers = r.size;
  opts.waitWorkers = false;  // the world-size check below waits, with a clearer error
  opts.timeout = r.timeout;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  opts.useLibUV = false;  // Debian's libtorch may lack libuv; the classic server is plenty for a few ranks
#endif
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(r.host, opts);
  } catch (const std::exception& e) {
    const std::string where = r.host + ":" + std::to_string(r.port);
    throw std::runtime_error(r.rank == 0 ? "rank 0 cannot serve the rendezvous on " + where +
                                               " (is MASTER_PORT taken by another process?): " + Message(e)
                                         : "rank " + std::to_string(r.rank) + " cannot reach rank 0 at " + where +
                                               ": " + Message(e));
  }
  const std::string mine = std::to_string(r.size);
  // The first rank found to disagree, and its world size.
  int other = -1;
  std::string theirs;
  try {
    if (r.rank == 0) {
      store->set("lenet_torch/world_size", Bytes(mine));
      for (int rank = 1; rank < r.size && other < 0; ++rank) {
        theirs = Text(store->get("lenet_torch/world_size/" + std::to_string(rank)));
        if (theirs != mine) other = rank;
      }
      // Serve the store until the disagreeing rank has read rank 0's world size, so that it fails with the same
      // message rather than on a closed connection.
      if (other > 0) store->wait({"lenet_torch/read/" + std::to_string(other)});
    } else {
      store->set("lenet_torch/world_size/" + std::to_string(r.rank), Bytes(mine));
      theirs = Text(store->get("lenet_torch/world_size"));
      store->set("lenet_torch/read/" + std::to_string(r.rank), Bytes(mine));
      if (theirs != mine) other = 0;
    }
  } catch (const std::exception& e) {
    const auto message = Message(e);
    if (message.find("imeout") == std::string::npos && message.find("timed out") == std::string::npos) {
      throw std::runtime_error("the rendezvous at " + r.host + ":" + std::to_string(r.port) +
                               " broke off (rank 0 gone?): " + message);
    }
    std::ostringstream seconds;
    seconds << r.timeout.count() / 1000.0;
    throw std::runtime_error("timed out after " + seconds.str() + " s waiting for the other ranks of world_size " +
                             mine + " to join at " + r.host + ":" + std::to_string(r.port) +
                             " (a peer that never started, or a rank given twice): " + message);
  }
  if (other >= 0) {
    throw std::runtime_error("world_size mismatch: rank " + std::to_string(r.rank) + " was given world_size " + mine +
                             " but rank " + std::to_string(other) + " was given " + theirs);
  }
  return store;
}

c10::intrusive_ptr<C10dBackend> MakeBackend(const Rendezvous& r, const c10::intrusive_ptr<c10d::Store>& store) {
  // Its own key space, as PyTorch's default group has.
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("default_pg", store);
#ifdef LT_WITH_GLOO
  if (r.backend == "gloo") {
    auto options = c10d::ProcessGroupGloo::Options::create(r.timeout);
    // Peers on the loopback talk over it; others over the address this host's name resolves to, as PyTorch does.
    const bool loopback = r.host == "127.0.0.1" || r.host == "localhost" || r.host == "::1";
    options->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                        : c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 2;
    return c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, r.rank, r.size, options);
  }
#endif
#ifdef LT_WITH_NCCL
  if (r.backend == "nccl") {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = r.timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, r.rank, r.size, options);
  }
#endif
  std::string have;
  for (const auto& name : Backends()) have += (have.empty() ? "" : ", ") + name;
  throw std::runtime_error("Distributed package doesn't have " + r.backend + " built in: this lenet-torch was built " +
                           "against libtorch " + TORCH_VERSION + " with " + (have.empty() ? "no c10d backend" : have) +
                           (r.backend == "nccl" ? " (NCCL needs a CUDA libtorch and nccl.h: libnccl-dev)"
                                                : " (Gloo needs gloo's headers at build time: libgloo-dev)"));
}

// The rendezvous off the main thread: it waits for every rank.
class RendezvousWorker : public PromiseWorker {
 public:
  RendezvousWorker(Napi::Env env, Rendezvous r) : PromiseWorker(env, "lenet-torch:init_process_group"), r_(std::move(r)) {}

 protected:
  void Run() override {
    auto group = std::make_shared<Collectives>();
    group->store = MeetAt(r_);
    group->backend = MakeBackend(r_, group->store);
    group->name = r_.backend;
    group->rank = r_.rank;
    group->size = r_.size;
    group_ = std::move(group);
  }

  Napi::Value Result() override {
    auto holder = Napi::External<std::shared_ptr<Collectives>>::New(
        Env(), new std::shared_ptr<Collectives>(group_), [](Napi::Env, std::shared_ptr<Collectives>* p) { delete p; });
    return Data(Env()).process_group.New({holder});
  }

 private:
  Rendezvous r_;
  std::shared_ptr<Collectives> group_;
};

// Waits off the main thread for a collective that the main thread issued (so that every rank issues its
// collectives in program order, whatever order libuv's threads run in); `then` runs after, on that thread.
class WaitWorker : public PromiseWorker {
 public:
  WaitWorker(Napi::Env env, c10::intrusive_ptr<c10d::Work> work, std::function<void()> then)
      : PromiseWorker(env, "lenet-torch:collective"), work_(std::move(work)), then_(std::move(then)) {}

 protected:
  void Run() override {
    work_->wait();
    if (then_) then_();
  }
  Napi::Value Result() override { return Env().Undefined(); }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::function<void()> then_;
};

c10d::ReduceOp ParseReduceOp(const std::string& op) {
  if (op == "sum" || op == "avg") return c10d::ReduceOp::SUM;  // Gloo has no AVG: a sum, then divided
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "max") return c10d::ReduceOp::MAX;
  throw std::invalid_argument("unsupported reduce op '" + op + "'");
}

// The tensors as one flat bucket (a copy), and back.
at::Tensor Flatten(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) flat.push_back(t.reshape(-1));
  return at::cat(flat);
}

void Unflatten(const at::Tensor& bucket, const std::vector<at::Tensor>& tensors) {
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const auto n = t.numel();
    t.view(-1).copy_(bucket.slice(0, offset, offset + n));
    offset += n;
  }
}

void AllReduceInPlace(Collectives& group, at::Tensor& tensor) {
  std::vector<at::Tensor> tensors{tensor};
  group.backend->allreduce(tensors)->wait();
}

std::vector<at::Tensor> TensorList(const Napi::Value& value) {
  const auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> list;
  for (uint32_t i = 0; i < array.Length(); ++i) list.push_back(TensorWrap::From(array.Get(i), "params"));
  return list;
}

// initProcessGroup(backend, host, port, rank, worldSize, timeoutMs) -> Promise<ProcessGroup>
Napi::Value InitProcessGroup(const Napi::CallbackInfo& info) {
  Rendezvous r;
  r.backend = info[0].As<Napi::String>().Utf8Value();
  r.host = info[1].As<Napi::String>().Utf8Value();
  r.port = info[2].As<Napi::Number>().Int32Value();
  r.rank = info[3].As<Napi::Number>().Int32Value();
  r.size = info[4].As<Napi::Number>().Int32Value();
  r.timeout = Ms(info[5].As<Napi::Number>().Int64Value());
  return (new RendezvousWorker(info.Env(), std::move(r)))->Start();
}

}  // namespace

void AverageGradients(Collectives& group, const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params) {
    auto& grad = p.mutable_grad();
    if (!grad.defined()) grad = torch::zeros_like(p);
    grads.push_back(grad);
  }
  if (grads.empty()) return;
  auto bucket = Flatten(grads);
  AllReduceInPlace(group, bucket);
  bucket.div_(group.size);
  Unflatten(bucket, grads);
}

Napi::Function ProcessGroupWrap::Init(Napi::Env env) {
  return DefineClass(env, "ProcessGroup",
                     {
                         Method<&ProcessGroupWrap::Rank>("rank"),
                         Method<&ProcessGroupWrap::Size>("size"),
                         Method<&ProcessGroupWrap::Backend>("backend"),
                         Method<&ProcessGroupWrap::AllReduce>("allReduce"),
                         Method<&ProcessGroupWrap::Broadcast>("broadcast"),
                         Method<&ProcessGroupWrap::Barrier>("barrier"),
                         Method<&ProcessGroupWrap::AverageGradientsSync>("averageGradients"),
                         Method<&ProcessGroupWrap::BroadcastParameters>("broadcastParameters"),
                         Method<&ProcessGroupWrap::Destroy>("destroy"),
                     });
}

ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Wrap<ProcessGroupWrap>(info) {
  Construct(info, [&] {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "ProcessGroup is made by init_process_group()");
    group_ = *info[0].As<Napi::External<std::shared_ptr<Collectives>>>().Data();
  });
}

ProcessGroupWrap* ProcessGroupWrap::FromOptional(const Napi::Value& value, const char* what) {
  return UnwrapOptional(value, Data(value.Env()).process_group, what, "ProcessGroup");
}

std::shared_ptr<Collectives> ProcessGroupWrap::group(Napi::Env env) const {
  if (!group_) throw Napi::Error::New(env, "lenet-torch: this process group was destroyed (destroy_process_group)");
  return group_;
}

Napi::Value ProcessGroupWrap::Rank(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), group(info.Env())->rank);
}

Napi::Value ProcessGroupWrap::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), group(info.Env())->size);
}

Napi::Value ProcessGroupWrap::Backend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), group(info.Env())->name);
}

// allReduce(tensor, op) -> Promise<void>: in place; 'avg' divides the sum by the world size.
Napi::Value ProcessGroupWrap::AllReduce(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  auto tensor = TensorWrap::From(info[0], "tensor");
  const auto op = info[1].As<Napi::String>().Utf8Value();
  c10d::AllreduceOptions opts;
  opts.reduceOp = ParseReduceOp(op);
  std::vector<at::Tensor> tensors{tensor};
  auto work = g->backend->allreduce(tensors, opts);
  std::function<void()> then;
  if (op == "avg") then = [tensor, size = g->size]() mutable { tensor.div_(size); };
  return (new WaitWorker(info.Env(), std::move(work), std::move(then)))->Start();
}

// broadcast(tensor, src) -> Promise<void>: in place.
Napi::Value ProcessGroupWrap::Broadcast(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  std::vector<at::Tensor> tensors{TensorWrap::From(info[0], "tensor")};
  c10d::BroadcastOptions opts;
  opts.rootRank = info[1].As<Napi::Number>().Int64Value();
  return (new WaitWorker(info.Env(), g->backend->broadcast(tensors, opts), nullptr))->Start();
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  return (new WaitWorker(info.Env(), g->backend->barrier(), nullptr))->Start();
}

// averageGradients(params): blocks (DistributedDataParallel after a backward() on the main thread).
Napi::Value ProcessGroupWrap::AverageGradientsSync(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  AverageGradients(*g, TensorList(info[0]));
  return info.Env().Undefined();
}

// broadcastParameters(params): rank 0's values everywhere, in place; blocks (DistributedDataParallel's constructor).
Napi::Value ProcessGroupWrap::BroadcastParameters(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  const auto params = TensorList(info[0]);
  if (params.empty()) return info.Env().Undefined();
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> bucket{Flatten(params)};
  g->backend->broadcast(bucket, c10d::BroadcastOptions{})->wait();
  Unflatten(bucket[0], params);
  return info.Env().Undefined();
}

// destroy(): this handle lets go of the group (work and trainers under way keep it until they end).
Napi::Value ProcessGroupWrap::Destroy(const Napi::CallbackInfo& info) {
  group_.reset();
  return info.Env().Undefined();
}

void InitDistributed(Napi::Env env, Napi::Object exports) {
  auto cls = ProcessGroupWrap::Init(env);
  Data(env).process_group = Napi::Persistent(cls);
  exports.Set("ProcessGroup", cls);
  exports.Set("initProcessGroup", Function<&InitProcessGroup>(env, "initProcessGroup"));
  auto names = Backends();
  auto array = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) array.Set(i, Napi::String::New(env, names[i]));
  exports.Set("distributedBackends", array);
}

}  // namespace lt
