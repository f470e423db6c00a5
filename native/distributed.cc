#include "distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
// (Included by ProcessGroupGloo.hpp too, but needed without Gloo: the build without its headers uses the types.)
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#ifdef LT_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "common.h"
#include "hold.h"
#include "module.h"
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

// A collective's place in its group's line. Every rank must hand its collectives to the backend in the same order,
// the order of the calls; a call takes its turn where it is made (the main thread, in program order), and its
// collective, issued later on another thread once the ranks have agreed on it, waits for every earlier turn.
class Turn {
 public:
  explicit Turn(Collectives& group);
  // Passes the turn on if it was never taken (after the earlier ones: no collective may overtake another).
  ~Turn();
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;

  // Runs issue() once every earlier turn has issued its collective, then lets the next turn go (also on a throw).
  template <typename Fn>
  auto Take(Fn&& issue) -> decltype(issue()) {
    WaitFor();
    struct Passer {
      Turn* turn;
      ~Passer() { turn->Pass(); }
    } passer{this};
    return issue();
  }

 private:
  void WaitFor();
  void Pass();

  Collectives& group_;
  uint64_t number_ = 0;
  bool passed_ = false;
};

struct Collectives {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<C10dBackend> backend;
  std::string name;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{0};
  // Turn's line: the next number to hand out, and the number whose collective may be issued now.
  std::mutex mutex;
  std::condition_variable passed;
  uint64_t next_turn = 0;
  uint64_t serving = 0;
};

Turn::Turn(Collectives& group) : group_(group) {
  std::lock_guard<std::mutex> lock(group_.mutex);
  number_ = group_.next_turn++;
}

Turn::~Turn() {
  if (!passed_) Take([] {});
}

void Turn::WaitFor() {
  std::unique_lock<std::mutex> lock(group_.mutex);
  group_.passed.wait(lock, [&] { return group_.serving == number_; });
}

void Turn::Pass() {
  {
    std::lock_guard<std::mutex> lock(group_.mutex);
    ++group_.serving;
    passed_ = true;
  }
  group_.passed.notify_all();
}

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
    group->timeout = r_.timeout;
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

// The collectives, as the ranks compare them.
enum class Kind : int64_t { kAllReduce = 1, kBroadcast, kBarrier, kParameters, kGradients };

// all_reduce's ops, in the order of the codes the ranks compare ('avg' is a sum, divided after).
const std::vector<std::string> kReduceOps{"sum", "avg", "product", "min", "max"};

int64_t ReduceOpCode(const std::string& op) {
  const auto it = std::find(kReduceOps.begin(), kReduceOps.end(), op);
  if (it == kReduceOps.end()) throw std::invalid_argument("unsupported reduce op '" + op + "'");
  return it - kReduceOps.begin();
}

c10d::ReduceOp ReduceOpOf(int64_t code) {
  const auto& op = kReduceOps.at(code);
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "max") return c10d::ReduceOp::MAX;
  return c10d::ReduceOp::SUM;  // sum, and avg: Gloo has no AVG
}

// A rank's call, as the ranks compare it: the collective, its argument (the reduce op's code, the source rank)
// and its tensors.
struct Request {
  Kind kind;
  int64_t arg = 0;
  std::vector<at::Tensor> tensors;
};

// The tensors' layout as integers: for each, its dtype, device type, number of dimensions and sizes.
std::vector<int64_t> Layout(const std::vector<at::Tensor>& tensors) {
  std::vector<int64_t> layout;
  for (const auto& t : tensors) {
    layout.push_back(static_cast<int64_t>(t.scalar_type()));
    layout.push_back(static_cast<int64_t>(t.device().type()));
    layout.push_back(t.dim());
    for (const auto size : t.sizes()) layout.push_back(size);
  }
  return layout;
}

// FNV-1a over the layout: the ranks compare this instead of layouts of any length.
int64_t Fingerprint(const std::vector<int64_t>& layout) {
  uint64_t hash = 14695981039346656037ULL;
  for (const auto v : layout) {
    for (int byte = 0; byte < 8; ++byte) {
      hash ^= (static_cast<uint64_t>(v) >> (8 * byte)) & 0xff;
      hash *= 1099511628211ULL;
    }
  }
  return static_cast<int64_t>(hash);
}

// Every rank's `mine` (the same length on every rank), in rank order. Blocks; the group's timeout applies.
std::vector<std::vector<int64_t>> AllGather(Collectives& g, const std::vector<int64_t>& mine, const c10::Device& device) {
  auto input = torch::tensor(c10::ArrayRef<int64_t>(mine), torch::kInt64).to(device);
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < g.size; ++r) outputs[0].push_back(torch::empty_like(input));
  std::vector<at::Tensor> inputs{input};
  g.backend->allgather(outputs, inputs)->wait();
  std::vector<std::vector<int64_t>> all;
  for (const auto& t : outputs[0]) {
    const auto cpu = t.cpu();
    all.emplace_back(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
  }
  return all;
}

// Where the check's all-gathers run: the CPU for Gloo; NCCL gathers on this rank's GPU.
c10::Device CheckDevice(const Collectives& g, const std::vector<at::Tensor>& tensors) {
  if (g.name != "nccl") return c10::kCPU;
  for (const auto& t : tensors) {
    if (t.is_cuda()) return t.device();
  }
  const auto gpus = std::max<int64_t>(1, static_cast<int64_t>(torch::cuda::device_count()));
  return {c10::kCUDA, static_cast<c10::DeviceIndex>(g.rank % gpus)};
}

std::string DtypeWord(int64_t code) {
  if (code < 0 || code >= static_cast<int64_t>(at::ScalarType::NumOptions)) return "dtype #" + std::to_string(code);
  return DtypeName(static_cast<at::ScalarType>(code));
}

// The tensor at `at` of a layout in words ("float32 [2, 3]", "float32 [2] on cuda"); `at` moves past it.
std::string TensorWords(const std::vector<int64_t>& layout, size_t& at) {
  if (at + 3 > layout.size()) return "?";
  const auto dtype = layout[at], device = layout[at + 1], ndim = layout[at + 2];
  at += 3;
  std::string words = DtypeWord(dtype) + " [";
  for (int64_t d = 0; d < ndim && at < layout.size(); ++d, ++at) words += (d ? ", " : "") + std::to_string(layout[at]);
  words += "]";
  if (device != static_cast<int64_t>(c10::DeviceType::CPU)) {
    const bool known = device >= 0 && device < static_cast<int64_t>(c10::DeviceType::COMPILE_TIME_MAX_DEVICE_TYPES);
    words += " on " + (known ? c10::DeviceTypeName(static_cast<c10::DeviceType>(device), /*lower_case=*/true)
                             : "device type " + std::to_string(device));
  }
  return words;
}

// Each tensor of a layout in words.
std::vector<std::string> TensorsWords(const std::vector<int64_t>& layout, int64_t count) {
  std::vector<std::string> words;
  size_t at = 0;
  for (int64_t i = 0; i < count && at < layout.size(); ++i) words.push_back(TensorWords(layout, at));
  return words;
}

std::string KindName(int64_t kind) {
  switch (static_cast<Kind>(kind)) {
    case Kind::kAllReduce: return "all_reduce";
    case Kind::kBroadcast: return "broadcast";
    case Kind::kBarrier: return "barrier";
    case Kind::kParameters:
    case Kind::kGradients: return "DistributedDataParallel";
  }
  return "collective #" + std::to_string(kind);
}

// A rank's call in words: "all_reduce(op='sum') of float32 [3]".
std::string CallWords(int64_t kind, int64_t arg, const std::vector<std::string>& tensors) {
  const std::string tensor = tensors.empty() ? "no tensor" : tensors[0];
  switch (static_cast<Kind>(kind)) {
    case Kind::kAllReduce:
      return "all_reduce(op='" + (arg >= 0 && arg < static_cast<int64_t>(kReduceOps.size()) ? kReduceOps[arg] : "?") +
             "') of " + tensor;
    case Kind::kBroadcast: return "broadcast(src=" + std::to_string(arg) + ") of " + tensor;
    case Kind::kBarrier: return "barrier()";
    case Kind::kParameters:
      return "DistributedDataParallel's parameter broadcast (" + std::to_string(tensors.size()) + " parameters)";
    case Kind::kGradients:
      return "DistributedDataParallel's gradient averaging (" + std::to_string(tensors.size()) + " parameters)";
  }
  return KindName(kind);
}

// "rank 0: A; ranks 1-3, 5: B": the ranks with the same words together.
std::string ByRank(const std::vector<std::string>& words) {
  std::vector<std::pair<std::string, std::vector<int>>> groups;
  for (int r = 0; r < static_cast<int>(words.size()); ++r) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == words[r]; });
    if (it == groups.end()) groups.push_back({words[r], {r}});
    else it->second.push_back(r);
  }
  std::string text;
  for (const auto& [what, ranks] : groups) {
    std::string list;
    for (size_t i = 0; i < ranks.size();) {
      size_t j = i;
      while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
      list += (list.empty() ? "" : ", ") + std::to_string(ranks[i]) + (j > i ? "-" + std::to_string(ranks[j]) : "");
      i = j + 1;
    }
    text += (text.empty() ? "" : "; ") + std::string(ranks.size() > 1 ? "ranks " : "rank ") + list + ": " + what;
  }
  return text;
}

// The Error of ranks that disagree on a call: worded from what every rank gathered, the same on every rank.
struct Disagreement : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Its text. headers[r]: rank r's [kind, arg, tensor count, layout length, fingerprint]; layouts[r]: its layout.
std::string DisagreementText(const std::vector<std::vector<int64_t>>& headers,
                         const std::vector<std::vector<int64_t>>& layouts) {
  const auto n = headers.size();
  std::vector<std::vector<std::string>> tensors(n);
  for (size_t r = 0; r < n; ++r) tensors[r] = TensorsWords(layouts[r], headers[r][2]);
  const bool same_call = std::all_of(headers.begin(), headers.end(), [&](const auto& h) {
    return h[0] == headers[0][0] && h[1] == headers[0][1];
  });
  std::vector<std::string> words(n);
  const auto kind = static_cast<Kind>(headers[0][0]);
  if (same_call && (kind == Kind::kParameters || kind == Kind::kGradients)) {
    // DistributedDataParallel: the first parameter that differs, or the counts.
    size_t fewest = tensors[0].size();
    for (const auto& t : tensors) fewest = std::min(fewest, t.size());
    size_t i = 0;
    while (i < fewest && std::all_of(tensors.begin(), tensors.end(), [&](const auto& t) { return t[i] == tensors[0][i]; })) ++i;
    for (size_t r = 0; r < n; ++r) {
      words[r] = i < fewest ? tensors[r][i] : std::to_string(tensors[r].size()) + " parameters";
    }
    return "DistributedDataParallel: the ranks' nets differ " +
           (i < fewest ? "in parameter " + std::to_string(i) + " (of " + std::to_string(tensors[0].size()) + ")"
                       : std::string("in their number of parameters")) +
           ": " + ByRank(words) + ". Every rank must wrap the same net: parameters of the same shapes and dtypes, " +
           "in the same order";
  }
  if (same_call) {
    for (size_t r = 0; r < n; ++r) words[r] = tensors[r].empty() ? "no tensor" : tensors[r][0];
    return KindName(headers[0][0]) + ": the ranks' tensors differ: " + ByRank(words) +
           ". Every rank must pass a tensor of the same dtype and shape";
  }
  for (size_t r = 0; r < n; ++r) words[r] = CallWords(headers[r][0], headers[r][1], tensors[r]);
  return "the ranks called different collectives: " + ByRank(words) +
         ". Every rank must call the same collectives, in the same order";
}

// Checks that every rank makes the same call, with tensors of the same layout, before it is issued; the same Error
// on every rank when not. One all-gather of five integers; a second, of the layouts, only to word the Error. As
// PyTorch's ProcessGroupWrapper (TORCH_DISTRIBUTED_DEBUG=DETAIL) and DDP's _verify_params_across_processes do.
void Agree(Collectives& g, const Request& call) {
  if (g.size == 1) return;
  const auto layout = Layout(call.tensors);
  const std::vector<int64_t> header{static_cast<int64_t>(call.kind), call.arg,
                                    static_cast<int64_t>(call.tensors.size()), static_cast<int64_t>(layout.size()),
                                    Fingerprint(layout)};
  const auto device = CheckDevice(g, call.tensors);
  const auto headers = AllGather(g, header, device);
  if (std::all_of(headers.begin(), headers.end(), [&](const auto& h) { return h == headers[0]; })) return;
  // Every rank gathered the same headers, so every rank is here, for the same second all-gather.
  int64_t longest = 1;
  for (const auto& h : headers) longest = std::max(longest, h[3]);
  auto padded = layout;
  padded.resize(longest, 0);
  throw Disagreement(DisagreementText(headers, AllGather(g, padded, device)));
}

using WorkPtr = c10::intrusive_ptr<c10d::Work>;

// The backend's failure of a collective, saying which one and, for the usual two, what it means.
std::runtime_error Failure(const Collectives& g, Kind kind, const std::exception& e) {
  const auto message = Message(e);
  auto has = [&](const char* text) { return message.find(text) != std::string::npos; };
  std::string what = KindName(static_cast<int64_t>(kind)) + ": ";
  if (has("imed out")) {
    std::ostringstream seconds;
    seconds << g.timeout.count() / 1000.0;
    what += "timed out after " + seconds.str() + " s (init_process_group's timeout) waiting for the other ranks: " +
            "one has not made this call, or is stuck: ";
  } else if (has("closed by peer") || has("onnection reset") || has("roken pipe")) {
    what += "a peer is gone (its process ended?): ";
  }
  return std::runtime_error(what + message);
}

// The call's collective, once every rank agrees on it: issued in turn (`issue` may return null: nothing to do),
// then waited for. Blocks; the group's timeout applies.
void Collective(Collectives& g, Turn& turn, const Request& call, const std::function<WorkPtr()>& issue) {
  try {
    auto work = turn.Take([&] {
      Agree(g, call);
      return issue();
    });
    if (work) work->wait();
  } catch (const Disagreement&) {
    throw;
  } catch (const std::exception& e) {
    throw Failure(g, call.kind, e);
  }
}

// all_reduce or broadcast of one tensor, in place. The backends take a tensor's memory as one dense block, so a
// tensor that is not contiguous (a view of every second element) goes as a contiguous copy, copied back after.
void InPlace(Collectives& g, Turn& turn, const Request& call) {
  torch::NoGradGuard no_grad;
  const auto& tensor = call.tensors[0];
  std::vector<at::Tensor> buffer;
  Collective(g, turn, call, [&] {
    buffer = {tensor.contiguous()};
    if (call.kind == Kind::kBroadcast) {
      c10d::BroadcastOptions opts;
      opts.rootRank = call.arg;
      return g.backend->broadcast(buffer, opts);
    }
    c10d::AllreduceOptions opts;
    opts.reduceOp = ReduceOpOf(call.arg);
    return g.backend->allreduce(buffer, opts);
  });
  if (call.kind == Kind::kAllReduce && kReduceOps[call.arg] == "avg") buffer[0].div_(g.size);
  if (!buffer[0].is_same(tensor)) tensor.copy_(buffer[0]);
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

// DistributedDataParallel's start: the ranks' parameter layouts compared, then rank 0's values copied into every
// rank's parameters (one flat bucket, one broadcast). Blocks.
void BroadcastParameters(Collectives& g, Turn& turn, const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> bucket;
  Collective(g, turn, Request{Kind::kParameters, /*arg=*/0, params}, [&]() -> WorkPtr {
    if (params.empty()) return {};
    bucket = {Flatten(params)};
    return g.backend->broadcast(bucket, c10d::BroadcastOptions{});
  });
  if (!params.empty()) Unflatten(bucket[0], params);
}

// A collective off the main thread: its turn taken where it is called (the main thread, in call order), the rest
// (the ranks' agreement, the collective, the wait) on a worker thread. `hold`, when given, keeps the net whose
// parameters it writes from other use until it settles.
class CollectiveWorker : public PromiseWorker {
 public:
  CollectiveWorker(Napi::Env env, std::shared_ptr<Collectives> group, std::function<void(Collectives&, Turn&)> body,
                   std::unique_ptr<Hold> hold = nullptr)
      : PromiseWorker(env, "lenet-torch:collective"),
        group_(std::move(group)),
        turn_(*group_),
        body_(std::move(body)),
        hold_(std::move(hold)) {}

 protected:
  void Run() override { body_(*group_, turn_); }
  Napi::Value Result() override { return Env().Undefined(); }
  void Release() override { hold_.reset(); }

 private:
  std::shared_ptr<Collectives> group_;
  Turn turn_;
  std::function<void(Collectives&, Turn&)> body_;
  std::unique_ptr<Hold> hold_;
};

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
  std::vector<at::Tensor> bucket;
  Turn turn(group);
  Collective(group, turn, Request{Kind::kGradients, /*arg=*/0, grads}, [&]() -> WorkPtr {
    if (grads.empty()) return {};
    bucket = {Flatten(grads)};
    return group.backend->allreduce(bucket);
  });
  if (grads.empty()) return;
  bucket[0].div_(group.size);
  Unflatten(bucket[0], grads);
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
                         Method<&ProcessGroupWrap::BroadcastParametersAsync>("broadcastParametersAsync"),
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
  Request call{Kind::kAllReduce, ReduceOpCode(info[1].As<Napi::String>().Utf8Value()), {TensorWrap::From(info[0], "tensor")}};
  auto body = [call](Collectives& g, Turn& turn) { InPlace(g, turn, call); };
  return (new CollectiveWorker(info.Env(), group(info.Env()), body))->Start();
}

// broadcast(tensor, src) -> Promise<void>: in place.
Napi::Value ProcessGroupWrap::Broadcast(const Napi::CallbackInfo& info) {
  Request call{Kind::kBroadcast, info[1].As<Napi::Number>().Int64Value(), {TensorWrap::From(info[0], "tensor")}};
  auto body = [call](Collectives& g, Turn& turn) { InPlace(g, turn, call); };
  return (new CollectiveWorker(info.Env(), group(info.Env()), body))->Start();
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  auto body = [](Collectives& g, Turn& turn) {
    Collective(g, turn, Request{Kind::kBarrier}, [&] { return g.backend->barrier(); });
  };
  return (new CollectiveWorker(info.Env(), group(info.Env()), body))->Start();
}

// averageGradients(params): blocks (DistributedDataParallel after a backward() on the main thread).
Napi::Value ProcessGroupWrap::AverageGradientsSync(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  AverageGradients(*g, TensorWrap::List(info[0], "params"));
  return info.Env().Undefined();
}

// broadcastParameters(params): the ranks' layouts compared, then rank 0's values everywhere, in place; blocks
// (DistributedDataParallel's constructor, as PyTorch's).
Napi::Value ProcessGroupWrap::BroadcastParameters(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  const auto params = TensorWrap::List(info[0], "params");
  Turn turn(*g);
  lt::BroadcastParameters(*g, turn, params);
  return info.Env().Undefined();
}

// broadcastParametersAsync(modules, params, activity) -> Promise<void>: as broadcastParameters, off the main thread,
// the modules' trees held for `activity` meanwhile (train_ch6's start, which waits for every rank).
Napi::Value ProcessGroupWrap::BroadcastParametersAsync(const Napi::CallbackInfo& info) {
  auto g = group(info.Env());
  const auto modules = info[0].As<Napi::Array>();
  std::vector<const torch::nn::Module*> roots;
  for (uint32_t i = 0; i < modules.Length(); ++i) {
    roots.push_back(ModuleWrap::From(modules.Get(i), "modules")->module().get());
  }
  auto params = TensorWrap::List(info[1], "params");
  auto hold = Hold::Acquire(info.Env(), roots, info[2].As<Napi::String>().Utf8Value());
  auto body = [params](Collectives& group, Turn& turn) { lt::BroadcastParameters(group, turn, params); };
  return (new CollectiveWorker(info.Env(), g, body, std::move(hold)))->Start();
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
