#include "tensor.h"

#ifdef LT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "common.h"
#include "errors.h"
#include "hold.h"
#include "memory.h"

namespace lt {

namespace {

int64_t StorageNbytes(const at::Tensor& t) {
  return t.defined() && t.has_storage() ? static_cast<int64_t>(t.storage().nbytes()) : 0;
}

c10::TensorOptions Options(const Napi::Value& dtype, const Napi::Value& device) {
  auto options = c10::TensorOptions();
  if (dtype.IsString()) options = options.dtype(ParseDtype(dtype.As<Napi::String>()));
  if (device.IsString()) options = options.device(ParseDevice(device.As<Napi::String>()));
  return options;
}

// A typed array's bytes as a tensor of the matching dtype (copied, so JS may reuse the buffer).
at::Tensor FromTypedArray(const Napi::TypedArray& array, const std::vector<int64_t>& shape) {
  const at::ScalarType type = TypedArrayDtype(array.TypedArrayType());
  // lib/ matches the shape to the data; reading past the buffer would be a crash, so this one check stays.
  const auto numel = c10::multiply_integers(shape);
  if (numel != static_cast<int64_t>(array.ElementLength())) {
    throw std::invalid_argument("fromData: the shape holds " + std::to_string(numel) + " elements but the data " +
                                std::to_string(array.ElementLength()));
  }
  auto* bytes = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return torch::from_blob(bytes, shape, at::TensorOptions().dtype(type)).clone();
}

Napi::Value Scalar(Napi::Env env, const at::Scalar& s) {
  if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
  if (s.isIntegral(/*includeBool=*/false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
  return Napi::Number::New(env, s.toDouble());
}

at::Scalar ToScalar(const Napi::Value& v) { return at::Scalar(v.As<Napi::Number>().DoubleValue()); }

// A number as the other operand of `self`'s binary op. With an integer (or bool) tensor, an integral number is a
// Python int, so PyTorch's type promotion keeps the tensor's dtype (int64 labels + 1 stay int64, 2**40 + 1 keeps
// its value); any other number is a Python float (int tensor * 2.5 -> float32).
at::Scalar Operand(const Napi::Value& v, const at::Tensor& self) {
  const double d = v.As<Napi::Number>().DoubleValue();
  constexpr double kInt64End = 9223372036854775808.0;  // 2^63
  if (at::isIntegralType(self.scalar_type(), /*includeBool=*/true) && std::trunc(d) == d && d >= -kInt64End &&
      d < kInt64End) {
    return at::Scalar(static_cast<int64_t>(d));
  }
  return at::Scalar(d);
}

// lib/'s index list as libtorch's: a number, a boolean, null (None), '...' (Ellipsis), [start | null, stop | null,
// step] (a Slice) or a Tensor.
std::vector<at::indexing::TensorIndex> ToIndices(const Napi::Value& value) {
  const auto items = value.As<Napi::Array>();
  std::vector<at::indexing::TensorIndex> indices;
  indices.reserve(items.Length());
  for (uint32_t i = 0; i < items.Length(); ++i) {
    const Napi::Value item = items.Get(i);
    if (item.IsNull()) {
      indices.emplace_back(at::indexing::None);
    } else if (item.IsString()) {
      indices.emplace_back(at::indexing::Ellipsis);
    } else if (item.IsBoolean()) {
      indices.emplace_back(item.As<Napi::Boolean>().Value());
    } else if (item.IsNumber()) {
      indices.emplace_back(item.As<Napi::Number>().Int64Value());
    } else if (item.IsArray()) {
      const auto parts = item.As<Napi::Array>();
      c10::optional<int64_t> bounds[2];
      for (uint32_t b = 0; b < 2; ++b) {
        const Napi::Value v = parts.Get(b);
        if (v.IsNumber()) bounds[b] = v.As<Napi::Number>().Int64Value();
      }
      indices.emplace_back(at::indexing::Slice(bounds[0], bounds[1], parts.Get(2u).As<Napi::Number>().Int64Value()));
    } else {
      indices.emplace_back(TensorWrap::From(item, "indices"));
    }
  }
  return indices;
}

}  // namespace

namespace {

// ---- the handle table ------------------------------------------------------------------------------------
// Slots in chunks of 4,096 that never move nor are freed (a stale handle may name one any time), published by a
// release store so that lookups take no lock. Each thread takes free slots from a list of its own (handles are made,
// finalized and scoped on their environment's JS thread), refilled 4,096 at a time under a mutex.

constexpr uint64_t kHandleBit = uint64_t{1} << 63;
constexpr int kIndexBits = 30;
constexpr uint32_t kIndexMask = (uint32_t{1} << kIndexBits) - 1;
constexpr int kChunkBits = 12;
constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;
constexpr uint32_t kMaxChunks = uint32_t{1} << (kIndexBits - kChunkBits);

// Zero-initialised statics: no constructor runs at load, no page is touched until used.
std::atomic<TensorHandle*> g_chunks[kMaxChunks];
uint32_t g_next_index = 0;                 // guarded by SlotsMutex(): the first index never handed out
std::vector<uint32_t>* g_spare = nullptr;  // guarded: slots of threads that ended

std::mutex& SlotsMutex() {
  static auto* mutex = new std::mutex();  // never destroyed: threads may give their slots back at exit
  return *mutex;
}

// This thread's free slots; given to g_spare when the thread ends (a worker).
struct FreeSlots {
  std::vector<uint32_t> indices;
  ~FreeSlots() {
    std::lock_guard<std::mutex> lock(SlotsMutex());
    if (!g_spare) g_spare = new std::vector<uint32_t>();
    g_spare->insert(g_spare->end(), indices.begin(), indices.end());
  }
};
thread_local FreeSlots t_free;

TensorHandle* SlotAt(uint32_t index) {
  return &g_chunks[index >> kChunkBits].load(std::memory_order_acquire)[index & (kChunkSize - 1)];
}

void Refill(std::vector<uint32_t>* list) {
  std::lock_guard<std::mutex> lock(SlotsMutex());
  if (g_spare && !g_spare->empty()) {
    const size_t n = std::min<size_t>(g_spare->size(), kChunkSize);
    list->insert(list->end(), g_spare->end() - n, g_spare->end());
    g_spare->resize(g_spare->size() - n);
    return;
  }
  const uint32_t first = g_next_index;
  if ((first >> kChunkBits) >= kMaxChunks) throw std::runtime_error("more than 2^30 tensor handles at once");
  auto* chunk = new TensorHandle[kChunkSize]();
  // Generations start at random: a second copy of the addon in the process (two versions of the package) has a table
  // of its own with the same indices, and a handle of one passed to the other must not name a live tensor there.
  // Random starts make it read as disposed instead (a match is one chance in 2^32).
  static std::mt19937 random_generation{std::random_device{}()};
  for (uint32_t i = 0; i < kChunkSize; ++i) chunk[i].generation = static_cast<uint32_t>(random_generation());
  g_chunks[first >> kChunkBits].store(chunk, std::memory_order_release);
  g_next_index = first + kChunkSize;
  // Lowest index last, so that it is taken first.
  for (uint32_t i = first + kChunkSize; i-- > first;) list->push_back(i);
}

void* HandleId(uint32_t index, uint32_t generation) {
  return reinterpret_cast<void*>(kHandleBit | (static_cast<uint64_t>(generation) << kIndexBits) | index);
}

// Whether an External's pointer names a slot of this table; its slot index in *index.
bool IsHandleId(void* data, uint32_t* index) {
  const auto v = reinterpret_cast<uint64_t>(data);
  // Bit 63 set, bit 62 clear (bits 30-61 are the generation).
  if ((v >> 62) != 2) return false;
  *index = static_cast<uint32_t>(v) & kIndexMask;
  return g_chunks[*index >> kChunkBits].load(std::memory_order_acquire) != nullptr;
}

uint32_t GenerationOf(void* data) { return static_cast<uint32_t>(reinterpret_cast<uint64_t>(data) >> kIndexBits); }

// What a stale handle (its slot since reused) reads as: disposed. Never written.
const TensorHandle kStale{at::Tensor(), true};

// The live slot a handle names, or &kStale; nullptr when `data` is not a handle's.
TensorHandle* Resolve(void* data) {
  uint32_t index;
  if (!IsHandleId(data, &index)) return nullptr;
  TensorHandle* h = SlotAt(index);
  return h->generation == GenerationOf(data) ? h : const_cast<TensorHandle*>(&kStale);
}

// Frees the tensor now rather than at the next garbage collection; safe to call twice. Calls no JS and throws
// nothing: it runs in the finalizer, inside garbage collection.
void Release(TensorHandle* h) {
  h->tensor = at::Tensor();
  if (h->external_bytes > 0) {
    int64_t adjusted = 0;
    napi_adjust_external_memory(h->env, -h->external_bytes, &adjusted);
    h->external_bytes = 0;
  }
}

// Small tensors a scope's end let go of, freed one per later result: a scope of 100 results frees ~300 chunks at once,
// which overflow glibc's per-thread cache (7 chunks a size) into its bins; freed one by one between allocations, each
// result's chunks serve the next (~700 fewer instructions a call in malloc and free, 3-5 % of `a.add(b)` in tidy).
// Only what holds no more than its own few bytes: a CPU tensor of up to 4 KiB of storage, no autograd graph.
struct Pending {
  static constexpr size_t kCapacity = 256;
  at::Tensor ring[kCapacity];
  size_t head = 0, count = 0;
};
thread_local Pending t_pending;

void FreeOnePending() {
  auto& p = t_pending;
  if (p.count == 0) return;
  p.ring[p.head] = at::Tensor();
  p.head = (p.head + 1) % Pending::kCapacity;
  p.count--;
}

// Releases the slot a handle names, for reuse under the next generation.
// `defer`: a small tensor may wait in t_pending.
void FreeSlot(void* data, bool defer = false) {
  uint32_t index;
  if (!IsHandleId(data, &index)) return;
  TensorHandle* h = SlotAt(index);
  if (h->generation != GenerationOf(data)) return;
  const at::Tensor& t = h->tensor;
  if (defer && t_pending.count < Pending::kCapacity && t.defined() && t.layout() == at::kStrided && t.has_storage() &&
      t.device().is_cpu() && !t.requires_grad() && StorageNbytes(t) <= 4096) {
    auto& p = t_pending;
    p.ring[(p.head + p.count) % Pending::kCapacity] = std::move(h->tensor);
    p.count++;
  }
  Release(h);
  h->generation++;
  h->disposed = false;
  h->scoped = false;
  h->moving = false;
  h->depth = 0;
  h->pending_bytes = 0;
  h->owners = 0;
  h->scope_ref = false;
  h->scope = 0;
  t_free.indices.push_back(index);
}

// The External's finalizer (run inside garbage collection: see CMakeLists.txt); `data` is the handle's name. The
// slot is freed with its last owner.
// One owner of a GC-owned handle goes: the slot is freed with the last.
void ReleaseOwner(TensorHandle* h, void* data) {
  if (h->owners > 1) {
    h->owners--;
  } else {
    FreeSlot(data);
  }
}

void Finalize(node_api_basic_env, void* data, void*) {
  uint32_t index;
  if (!IsHandleId(data, &index)) return;
  TensorHandle* h = SlotAt(index);
  if (h->generation != GenerationOf(data)) return;
  ReleaseOwner(h, data);
}

// A scope lets go of a kept handle it still held (TensorHandle::scope_ref): freed if no owner is left.
void DropScopeRef(TensorHandle* h, void* data) {
  h->scope_ref = false;
  h->scope = 0;
  ReleaseOwner(h, data);
}

// ---- torch.tidy() scopes ----------------------------------------------------------------------------------
// The handles made while scopes are open, innermost scope last, and where each open scope's run of them starts. A
// worker terminated inside a scope frees them as its environment ends (FreeOpenScopes).
struct Scopes {
  std::vector<void*> handles;
  std::vector<size_t> starts;
  // libtorch's CPU bytes in use when each open scope began, and each one's serial (see ScopeEnd).
  std::vector<int64_t> bytes_before;
  std::vector<uint32_t> serials;
  uint32_t last_serial = 0;
};
thread_local Scopes t_scopes;

// An environment's cleanup, on its thread: the handles of scopes still open (a worker terminated inside torch.tidy(),
// which no scope's end will free; they have no finalizer) are freed. `token` makes each registration its own (Node
// aborts on a second hook of the same function and argument, and the addon's init runs again in the same
// environment when it is required again after `delete require.cache[...]`); a second run finds nothing left.
void FreeOpenScopes(void* token) {
  delete static_cast<char*>(token);
  auto& scopes = t_scopes;
  for (size_t i = scopes.handles.size(); i-- > 0;) {
    TensorHandle* h = Resolve(scopes.handles[i]);
    if (h == &kStale) continue;
    if (h->scoped) {
      FreeSlot(scopes.handles[i]);
    } else if (h->scope_ref) {
      DropScopeRef(h, scopes.handles[i]);
    }
  }
  scopes.handles.clear();
  scopes.starts.clear();
  scopes.bytes_before.clear();
  scopes.serials.clear();
}

// The name a handle carries (an External's pointer, or a BigInt's value: see tensor.h); false for any other value.
// `*bigint`, when asked, says which.
bool HandleData(napi_env env, napi_value value, void** data, bool* bigint = nullptr) {
  if (bigint != nullptr) *bigint = false;
  if (napi_get_value_external(env, value, data) == napi_ok) return true;
  if (bigint != nullptr) *bigint = true;
  uint64_t bits = 0;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, value, &bits, &lossless) != napi_ok || !lossless) return false;
  *data = reinterpret_cast<void*>(bits);
  return true;
}

// A scoped handle from now on owned by the garbage collector: its bytes reported to V8, and in *owner a new External
// naming the same slot, whose finalizer frees it (the handle is a BigInt, which can have none): the JS side makes the
// owner the Tensor's handle (lib/tensor.ts keepAlive). *owner stays null for a handle that is not scoped. `in_scope`:
// kept while its scope is open (torch.keep), which holds it too until it ends (TensorHandle::scope_ref).
napi_status KeepHandle(napi_env env, TensorHandle* h, void* data, napi_value* owner, bool in_scope) {
  *owner = nullptr;
  if (!h->scoped) return napi_ok;
  const napi_status status = napi_create_external(env, data, &Finalize, nullptr, owner);
  if (status != napi_ok) return status;
  h->scoped = false;
  h->owners = in_scope ? 2 : 1;
  h->scope_ref = in_scope;
  if (h->pending_bytes > 0) {
    h->external_bytes = h->pending_bytes;
    int64_t adjusted = 0;
    napi_adjust_external_memory(env, h->pending_bytes, &adjusted);
  }
  h->pending_bytes = 0;
  return napi_ok;
}

// Another owner, in *owner, for a handle whose slot the garbage collector owns already, held as a scope's BigInt by a
// Tensor of its own: a second Tensor over the slot, as `F.relu(h, true)` returns, when the first was kept (assigned to
// a module attribute, torch.keep) before this one left its scope. The slot is freed when the last owner is collected.
// `transfer`: the owner takes the place of a reference counted already (a scope's, TensorHandle::scope_ref, or one
// ScopeEnd took for it) instead of adding one.
napi_status ShareHandle(napi_env env, TensorHandle* h, void* data, napi_value* owner, bool transfer = false) {
  // Counted first: making the External may collect garbage, and finalize the slot's other owners.
  if (!transfer) h->owners++;
  const napi_status status = napi_create_external(env, data, &Finalize, nullptr, owner);
  if (status != napi_ok) {
    if (!transfer) ReleaseOwner(h, data);
    return status;
  }
  h->scope_ref = false;
  h->scope = 0;
  return napi_ok;
}

// Tells V8 that a GC-owned handle holds `bytes` in all (more than it reported), or a scoped one that it will.
void ReportAtLeast(napi_env env, TensorHandle* h, int64_t bytes) {
  if (h->scoped) {
    h->pending_bytes = std::max(h->pending_bytes, bytes);
  } else if (bytes > h->external_bytes) {
    int64_t adjusted = 0;
    napi_adjust_external_memory(env, bytes - h->external_bytes, &adjusted);
    h->external_bytes = bytes;
  }
}

// What using a disposed tensor says: disposed by dispose(), or freed by the end of the scope that made it.
constexpr const char* kDisposedMessage =
    "Tensor was disposed: it can no longer be used (dispose() was called, or it was made inside torch.tidy() or a "
    "forward written in JS and freed when that ended: return it, assign it to a module attribute, or pass it to "
    "torch.keep() to keep it)";

// The tensor, for its metadata only; an Error once disposed.
const at::Tensor& Meta(Napi::Env env, const TensorHandle* h) {
  if (h->disposed) throw Napi::Error::New(env, kDisposedMessage);
  return h->tensor;
}

// The tensor, for reading or writing its values: also refused while a training holds it.
const at::Tensor& Get(Napi::Env env, const TensorHandle* h) {
  // Values, gradients and flags of a net that trains on another thread are off limits (see hold.h).
  CheckNotHeld(env, Meta(env, h));
  return h->tensor;
}

// The handle that a tensor function takes first.
TensorHandle* Self(const Napi::CallbackInfo& info) { return TensorWrap::HandleOf(info[0], "tensor"); }

}  // namespace

Napi::Value TensorWrap::New(Napi::Env env, at::Tensor tensor, bool owned) {
  return New(env, std::move(tensor), owned ? int64_t{-1} : int64_t{0});
}

Napi::Value TensorWrap::New(Napi::Env env, at::Tensor tensor, int64_t bytes) {
  if (!tensor.defined()) return env.Null();
  // -1: the tensor's own storage.
  const int64_t reported = bytes < 0 ? StorageNbytes(tensor) : std::max(bytes, int64_t{0});
  FreeOnePending();
  auto& free = t_free.indices;
  if (free.empty()) Refill(&free);
  // Taken off the list before napi_create_external, which may collect garbage: finalizers run inside it (see
  // CMakeLists.txt) and push the slots they free onto this very list.
  const uint32_t index = free.back();
  free.pop_back();
  TensorHandle* h = SlotAt(index);
  void* data = HandleId(index, h->generation);
  napi_value external = nullptr;
  const bool scoped = !t_scopes.starts.empty();
  // In a scope, a BigInt: a napi External costs a weak V8 handle even without a finalizer (Node keeps a wrapper for
  // its type tag), which the scope, freeing the tensor itself, does not need (15-20 % of a small op's call).
  napi_status status = scoped ? napi_create_bigint_uint64(env, reinterpret_cast<uint64_t>(data), &external)
                              : napi_create_external(env, data, &Finalize, nullptr, &external);
  if (status != napi_ok) {
    t_free.indices.push_back(index);
    NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  }
  h->tensor = std::move(tensor);
  h->env = env;
  if (scoped) {
    // The scope's end frees it; kept, it reports its bytes then.
    h->scoped = true;
    h->depth = static_cast<uint32_t>(t_scopes.starts.size());
    h->scope = t_scopes.serials.back();
    h->pending_bytes = reported;
    t_scopes.handles.push_back(data);
  } else {
    // From here the finalizer owns the slot: it gives back exactly the bytes reported here.
    h->owners = 1;
    if (reported > 0) {
      h->external_bytes = reported;
      Napi::MemoryManagement::AdjustExternalMemory(env, reported);
    }
  }
  return Napi::Value(env, external);
}

bool TensorWrap::Is(const Napi::Value& value) { return HandleOfValue(value) != nullptr; }

TensorHandle* TensorWrap::HandleOfValue(const Napi::Value& value) {
  void* data = nullptr;
  if (!HandleData(value.Env(), value, &data)) return nullptr;
  TensorHandle* h = Resolve(data);
  // A BigInt can be copied to another thread (postMessage, structuredClone), an External cannot: a handle is one
  // only in the environment that made it.
  if (h != nullptr && h != &kStale && h->env != value.Env()) return nullptr;
  return h;
}

const at::Tensor& TensorWrap::FromHandle(Napi::Env env, const TensorHandle* h) { return Get(env, h); }

TensorHandle* TensorWrap::HandleOf(const Napi::Value& value, const char* what) {
  TensorHandle* h = HandleOfValue(value);
  if (!h) throw Napi::TypeError::New(value.Env(), std::string("Expected ") + what + " to be a Tensor");
  return h;
}

const at::Tensor* TensorWrap::TryFrom(const Napi::Value& value) {
  const TensorHandle* h = HandleOfValue(value);
  return h ? &Get(value.Env(), h) : nullptr;
}

const at::Tensor& TensorWrap::From(const Napi::Value& value, const char* what) {
  return Get(value.Env(), HandleOf(value, what));
}

std::vector<at::Tensor> TensorWrap::List(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string("Expected ") + what + " to be an array");
  const auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> tensors;
  tensors.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) tensors.push_back(From(array.Get(i), what));
  return tensors;
}

// ---- the handle's operations: module functions taking the handle first ------------------------------------

namespace {

// tensorShape(h)
Napi::Value TensorShape(const Napi::CallbackInfo& info) { return FromShape(info.Env(), Meta(info.Env(), Self(info)).sizes()); }

Napi::Value TensorDtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(Meta(info.Env(), Self(info)).scalar_type()));
}

Napi::Value TensorDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DeviceName(Meta(info.Env(), Self(info)).device()));
}

Napi::Value TensorNumel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Meta(info.Env(), Self(info)).numel()));
}

Napi::Value TensorRequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Meta(info.Env(), Self(info)).requires_grad());
}

// tensorSetRequiresGrad(h, value)
Napi::Value TensorSetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // requires_grad_(), not set_requires_grad(): it refuses to turn a non-leaf's off, as PyTorch does.
  Get(env, Self(info)).requires_grad_(info[1].As<Napi::Boolean>());
  return env.Undefined();
}

// tensorSetData(h, other): PyTorch's `param.data = other`: the tensor object (and so every holder of it, an
// optimizer) now holds other's storage, dtype and device; autograd's leaf and requires_grad stay. Module.to() moves
// a JS module's parameters so.
Napi::Value TensorSetData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env, Self(info)).set_data(TensorWrap::From(info[1], "other"));
  return env.Undefined();
}

Napi::Value TensorIsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Meta(info.Env(), Self(info)).is_leaf());
}

Napi::Value TensorGradFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& node = Get(env, Self(info)).grad_fn();
  if (!node) return env.Null();
  return Napi::String::New(env, node->name());
}

Napi::Value TensorGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, Get(env, Self(info)).grad(), /*owned=*/false);
}

// tensorTo(h, device | null, dtype | null)
Napi::Value TensorTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env, Self(info));
  auto device = info[1].IsString() ? ParseDevice(info[1].As<Napi::String>()) : t.device();
  auto dtype = info[2].IsString() ? ParseDtype(info[2].As<Napi::String>()) : t.scalar_type();
  return TensorWrap::New(env, t.to(device, dtype));
}

Napi::Value TensorItem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Scalar(env, Get(env, Self(info)).item());
}

// tensorData(h): a copy of the values, row-major, in the typed array that matches the dtype.
Napi::Value TensorData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = Get(env, Self(info)).detach().to(torch::kCPU);
  // A gradient may be an efficient zero tensor (sgn's, for one): it has no memory to copy from.
  if (t._is_zerotensor()) t = at::zeros(t.sizes(), at::TensorOptions().dtype(t.scalar_type()));
  const auto [kind, carried] = TypedArrayOf(t.scalar_type());
  if (t.scalar_type() != carried) t = t.to(carried);
  t = t.contiguous();
  const size_t bytes = t.numel() * t.element_size();
  auto buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
  napi_value array;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, kind, t.numel(), buffer, 0, &array), Napi::Value());
  return Napi::Value(env, array);
}

// tensorReshape(h, shape)
Napi::Value TensorReshape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, Get(env, Self(info)).reshape(ToShape(info[1])));
}

// tensorView(h, shape)
Napi::Value TensorView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, Get(env, Self(info)).view(ToShape(info[1])));
}

// tensorIndex(h, indices), as the C++ frontend's t.index({...}).
Napi::Value TensorIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env, Self(info));
  return TensorWrap::New(env, t.index(ToIndices(info[1])));
}

// tensorIndexPut(h, indices, value): t.index_put_({...}, value) in place; value is a number or a Tensor.
Napi::Value TensorIndexPut(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = Get(env, Self(info));  // a handle of the same tensor: index_put_ is not const in libtorch 1.13
  const auto indices = ToIndices(info[1]);
  if (info[2].IsNumber()) {
    t.index_put_(indices, Operand(info[2], t));
  } else {
    t.index_put_(indices, TensorWrap::From(info[2], "values"));
  }
  return env.Undefined();
}

// tensorBackward(h, gradient | null)
Napi::Value TensorBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env, Self(info));
  at::Tensor gradient;
  if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) gradient = TensorWrap::From(info[1], "gradient");
  t.backward(gradient);
  return env.Undefined();
}

// tensorIdentity(h): a number that two handles of the same tensor share (its TensorImpl's address): how lib/
// deduplicates parameters.
Napi::Value TensorIdentity(const Napi::CallbackInfo& info) {
  const auto* impl = Meta(info.Env(), Self(info)).unsafeGetTensorImpl();
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(impl)));
}

// tensorDispose(h): frees the tensor now; later calls on this handle throw. Safe to call twice.
Napi::Value TensorDispose(const Napi::CallbackInfo& info) {
  auto* h = Self(info);
  if (h->disposed) return info.Env().Undefined();
  CheckNotHeld(info.Env(), h->tensor);
  h->disposed = true;
  // A scoped handle's slot waits for its scope's end; its pending bytes were never reported.
  h->pending_bytes = 0;
  Release(h);
  return info.Env().Undefined();
}

// scopeBegin(): opens a torch.tidy() scope on this thread.
Napi::Value ScopeBegin(const Napi::CallbackInfo& info) {
  t_scopes.starts.push_back(t_scopes.handles.size());
  t_scopes.bytes_before.push_back(CpuBytesInUse());
  if (++t_scopes.last_serial == 0) t_scopes.last_serial = 1;
  t_scopes.serials.push_back(t_scopes.last_serial);
  return info.Env().Undefined();
}

// scopeEnd(keep) -> owners | undefined: closes the innermost scope. The handles in `keep` (the scope's result) go to
// the scope around it, or to the garbage collector when there is none: then `owners[i]` is the owner of keep[i], to
// be kept with its Tensor. The scope's other handles are freed, newest first, and the ones kept inside it let go of
// (TensorHandle::scope_ref). What the scope added and its result still holds (in grad mode, the activations its
// autograd graph saved for backward, as a built-in module's forward reports them: native/module.cc) is counted with
// the first result it made, so that V8 collects such results as often as their memory needs.
Napi::Value ScopeEnd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& scopes = t_scopes;
  if (scopes.starts.empty()) throw Napi::Error::New(env, "scopeEnd(): no torch.tidy() scope is open");
  // The result's handles, read before the scope is closed (reading may throw).
  std::vector<Napi::Value> keep;
  if (info[0].IsArray()) {
    const auto array = info[0].As<Napi::Array>();
    for (uint32_t i = 0, n = array.Length(); i < n; ++i) keep.push_back(array.Get(i));
  }
  const size_t start = scopes.starts.back();
  scopes.starts.pop_back();
  const int64_t bytes_before = scopes.bytes_before.back();
  scopes.bytes_before.pop_back();
  const uint32_t serial = scopes.serials.back();
  scopes.serials.pop_back();
  const bool outer = !scopes.starts.empty();
  const uint32_t depth = static_cast<uint32_t>(scopes.starts.size()) + 1;  // this scope's

  // The results this scope hands on, with their place in `keep`:
  //   kOwn: a handle it owns (scoped);
  //   kRef: a handle kept inside it, that it holds too (scope_ref), named by a Tensor holding its BigInt;
  //   kNewRef: a BigInt whose slot no scope holds any more (kept through another Tensor over it in an earlier scope);
  //     counted as one more owner at once, which joins the scope around or becomes the owner handed back.
  // kOwn and kRef are marked `moving` (which also skips a handle named twice).
  enum class Kind { kOwn, kRef, kNewRef };
  struct Kept {
    uint32_t index;
    TensorHandle* h;
    void* data;
    Kind kind;
  };
  std::vector<Kept> kept;
  void* made = nullptr;  // the first result this scope made (see ReportAtLeast)
  for (uint32_t i = 0; i < keep.size(); ++i) {
    void* data = nullptr;
    bool bigint = false;
    if (!HandleData(env, keep[i], &data, &bigint)) continue;
    TensorHandle* h = Resolve(data);
    if (!h || h->disposed || h->env != env) continue;
    if (made == nullptr && h->scope == serial) made = data;
    if (h->moving) continue;
    if (h->scoped || h->scope_ref) {
      // One of a scope around this one stays there.
      if (h->depth != depth || (!h->scoped && !bigint)) continue;
      h->moving = true;
      kept.push_back({i, h, data, h->scoped ? Kind::kOwn : Kind::kRef});
    } else if (bigint && std::none_of(kept.begin(), kept.end(), [&](const Kept& k) { return k.data == data; })) {
      // Counted at once (see ShareHandle): what follows may collect garbage, and finalize the slot's owner.
      h->owners++;
      kept.push_back({i, h, data, Kind::kNewRef});
    }
  }
  std::vector<void*> moved;
  for (size_t i = scopes.handles.size(); i-- > start;) {
    void* data = scopes.handles[i];
    TensorHandle* h = Resolve(data);
    if (h == &kStale) continue;  // finalized already
    if (h->moving) {
      h->moving = false;
      if (outer) {
        h->depth--;
        h->scope = scopes.serials.back();
        moved.push_back(data);
      } else {
        h->depth = 0;
        h->scope = 0;
      }
    } else if (h->scoped) {
      FreeSlot(data, true);
    } else if (h->scope_ref) {
      DropScopeRef(h, data);
    }
  }
  scopes.handles.resize(start);
  if (made != nullptr) {
    TensorHandle* h = Resolve(made);
    if (h != &kStale) ReportAtLeast(env, h, CpuBytesInUse() - bytes_before);
  }
  if (outer) {
    // A slot no scope held joins the one around, which holds it as the Tensors naming it by BigInt live in it.
    for (const Kept& k : kept) {
      if (k.kind != Kind::kNewRef) continue;
      k.h->scope_ref = true;
      k.h->depth = depth - 1;
      k.h->scope = scopes.serials.back();
      moved.push_back(k.data);
    }
    scopes.handles.insert(scopes.handles.end(), moved.rbegin(), moved.rend());
    return env.Undefined();
  }
  // Kept from here by the garbage collector, each through its owner (should making one fail, the results not yet
  // owned are let go of: no scope holds them any more).
  std::vector<napi_value> owners(kept.size());
  for (size_t k = 0; k < kept.size(); ++k) {
    const Kept& r = kept[k];
    const napi_status status = r.kind == Kind::kOwn ? KeepHandle(env, r.h, r.data, &owners[k], /*in_scope=*/false)
                                                    : ShareHandle(env, r.h, r.data, &owners[k], /*transfer=*/true);
    if (status != napi_ok) {
      for (size_t rest = k; rest < kept.size(); ++rest) {
        if (kept[rest].kind == Kind::kOwn) FreeSlot(kept[rest].data);
        if (kept[rest].kind != Kind::kOwn) DropScopeRef(kept[rest].h, kept[rest].data);
      }
      NAPI_THROW_IF_FAILED(env, status, Napi::Value());
    }
  }
  if (kept.empty()) return env.Undefined();
  auto array = Napi::Array::New(env, keep.size());
  for (size_t k = 0; k < kept.size(); ++k) {
    if (owners[k] != nullptr) array.Set(kept[k].index, Napi::Value(env, owners[k]));
  }
  return array;
}

// tensorKeep(h) -> owner | undefined: a handle made inside torch.tidy() outlives every scope (torch.keep), owned by
// the garbage collector through `owner` (see KeepHandle; ShareHandle when its slot was kept through another Tensor);
// a no-op for a handle the garbage collector owns.
Napi::Value TensorKeep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* h = Self(info);
  if (h->disposed) throw Napi::Error::New(env, kDisposedMessage);
  void* data = nullptr;
  bool bigint = false;
  HandleData(env, info[0], &data, &bigint);
  napi_value owner = nullptr;
  const napi_status status = h->scoped ? KeepHandle(env, h, data, &owner, /*in_scope=*/true)
                                       : bigint ? ShareHandle(env, h, data, &owner) : napi_ok;
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return owner != nullptr ? Napi::Value(env, owner) : env.Undefined();
}

Napi::Value TensorIsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Self(info)->disposed); }

// isTensorHandle(value): whether value is a tensor's handle (disposed or not).
Napi::Value IsTensorHandle(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TensorWrap::Is(info[0]));
}

}  // namespace

// ---- module-level functions --------------------------------------------------------------------------------

namespace {

// fromData(typedArray, shape, dtype | null, device | null)
Napi::Value FromData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = FromTypedArray(info[0].As<Napi::TypedArray>(), ToShape(info[1]));
  auto options = Options(info[2], info[3]);
  if (options.has_dtype() || options.has_device()) {
    t = t.to(options.device_opt().value_or(t.device()),
             options.has_dtype() ? c10::typeMetaToScalarType(options.dtype()) : t.scalar_type());
  }
  return TensorWrap::New(env, t);
}

// copyInto(tensor, byteOffset, bytes): writes bytes into a contiguous CPU tensor's memory, so large files can be
// decoded straight into a tensor chunk by chunk instead of through a second, whole-file buffer.
Napi::Value CopyInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = TensorWrap::From(info[0], "tensor");
  const auto offset = info[1].As<Napi::Number>().Int64Value();
  const auto bytes = info[2].As<Napi::TypedArray>();
  const auto length = static_cast<int64_t>(bytes.ByteLength());
  const auto capacity = static_cast<int64_t>(t.numel() * t.element_size());
  if (!t.device().is_cpu() || !t.is_contiguous() || offset < 0 || offset + length > capacity) {
    throw Napi::RangeError::New(env, "copyInto: the bytes do not fit the tensor");
  }
  std::memcpy(static_cast<char*>(t.data_ptr()) + offset,
              static_cast<const char*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset(), length);
  return env.Undefined();
}

// full(shape, value, dtype, device)
Napi::Value Full(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::full(ToShape(info[0]), ToScalar(info[1]), Options(info[2], info[3])));
}

// empty(shape, dtype, device): uninitialised memory, for callers that write every element (the IDX decoder, which
// would otherwise zero-fill a 47 MB tensor on the main thread first).
Napi::Value Empty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::empty(ToShape(info[0]), Options(info[1], info[2])));
}

// random(kind, shape, dtype, device): kind is rand or randn.
Napi::Value Random(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].As<Napi::String>();
  const auto shape = ToShape(info[1]);
  const auto options = Options(info[2], info[3]);
  return TensorWrap::New(env, kind == "randn" ? torch::randn(shape, options) : torch::rand(shape, options));
}

// randint(low, high, shape, dtype, device)
Napi::Value Randint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::randint(info[0].As<Napi::Number>().Int64Value(),
                                             info[1].As<Napi::Number>().Int64Value(), ToShape(info[2]),
                                             Options(info[3], info[4])));
}

// randperm(n, device)
Napi::Value Randperm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::randperm(info[0].As<Napi::Number>().Int64Value(),
                                              Options(Napi::String::New(env, "int64"), info[1])));
}

// arange(start, end, step, dtype, device)
Napi::Value Arange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::arange(ToScalar(info[0]), ToScalar(info[1]), ToScalar(info[2]),
                                            Options(info[3], info[4])));
}

// join(op, tensors, dim): op is cat or stack.
Napi::Value Join(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = info[0].As<Napi::String>();
  const auto tensors = TensorWrap::List(info[1], "tensors");
  const auto dim = info[2].As<Napi::Number>().Int64Value();
  if (op == "cat") return TensorWrap::New(env, torch::cat(tensors, dim));
  if (op == "stack") return TensorWrap::New(env, torch::stack(tensors, dim));
  throw std::invalid_argument("unknown operator " + op);
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  torch::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return env.Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SetThreads(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Threads());
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  return env.Undefined();
}

// memoryAllocated(index): bytes held by tensors on cuda:index (libtorch's caching allocator); 0 without CUDA or
// without a device.
Napi::Value CudaMemoryAllocated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#ifdef LT_WITH_CUDA
  const auto index = static_cast<c10::DeviceIndex>(info[0].As<Napi::Number>().Int32Value());
  // A CUDA build on a machine without a device answers as a CPU build does (libtorch would throw "Invalid
  // device argument" from its allocator).
  if (!torch::cuda::is_available()) return Napi::Number::New(env, 0);
  if (index >= static_cast<c10::DeviceIndex>(torch::cuda::device_count())) {
    throw Napi::RangeError::New(env, "Invalid device cuda:" + std::to_string(index) + ": this machine has " +
                                         std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  return Napi::Number::New(env, static_cast<double>(stats.allocated_bytes[0].current));
#else
  return Napi::Number::New(env, 0);
#endif
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  at::GradMode::set_enabled(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

}  // namespace

void InitTensorFunctions(Napi::Env env, Napi::Object exports) {
  auto* token = new char();
  const napi_status hooked = napi_add_env_cleanup_hook(env, &FreeOpenScopes, token);
  if (hooked != napi_ok) delete token;
  NAPI_THROW_IF_FAILED_VOID(env, hooked);
  exports.Set("tensorShape", Function<&TensorShape>(env, "tensorShape"));
  exports.Set("tensorDtype", Function<&TensorDtype>(env, "tensorDtype"));
  exports.Set("tensorDevice", Function<&TensorDevice>(env, "tensorDevice"));
  exports.Set("tensorNumel", Function<&TensorNumel>(env, "tensorNumel"));
  exports.Set("tensorRequiresGrad", Function<&TensorRequiresGrad>(env, "tensorRequiresGrad"));
  exports.Set("tensorSetRequiresGrad", Function<&TensorSetRequiresGrad>(env, "tensorSetRequiresGrad"));
  exports.Set("tensorSetData", Function<&TensorSetData>(env, "tensorSetData"));
  exports.Set("tensorIsLeaf", Function<&TensorIsLeaf>(env, "tensorIsLeaf"));
  exports.Set("tensorGradFn", Function<&TensorGradFn>(env, "tensorGradFn"));
  exports.Set("tensorGrad", Function<&TensorGrad>(env, "tensorGrad"));
  exports.Set("tensorTo", Function<&TensorTo>(env, "tensorTo"));
  exports.Set("tensorItem", Function<&TensorItem>(env, "tensorItem"));
  exports.Set("tensorData", Function<&TensorData>(env, "tensorData"));
  exports.Set("tensorReshape", Function<&TensorReshape>(env, "tensorReshape"));
  exports.Set("tensorView", Function<&TensorView>(env, "tensorView"));
  exports.Set("tensorIndex", Function<&TensorIndex>(env, "tensorIndex"));
  exports.Set("tensorIndexPut", Function<&TensorIndexPut>(env, "tensorIndexPut"));
  exports.Set("tensorBackward", Function<&TensorBackward>(env, "tensorBackward"));
  exports.Set("tensorIdentity", Function<&TensorIdentity>(env, "tensorIdentity"));
  exports.Set("scopeBegin", Function<&ScopeBegin>(env, "scopeBegin"));
  exports.Set("scopeEnd", Function<&ScopeEnd>(env, "scopeEnd"));
  exports.Set("tensorKeep", Function<&TensorKeep>(env, "tensorKeep"));
  exports.Set("tensorDispose", Function<&TensorDispose>(env, "tensorDispose"));
  exports.Set("tensorIsDisposed", Function<&TensorIsDisposed>(env, "tensorIsDisposed"));
  exports.Set("isTensorHandle", Function<&IsTensorHandle>(env, "isTensorHandle"));
  const auto names = DtypeNames();
  auto dtypes = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) dtypes.Set(i, Napi::String::New(env, names[i]));
  exports.Set("dtypes", dtypes);
  exports.Set("fromData", Function<&FromData>(env, "fromData"));
  exports.Set("full", Function<&Full>(env, "full"));
  exports.Set("empty", Function<&Empty>(env, "empty"));
  exports.Set("copyInto", Function<&CopyInto>(env, "copyInto"));
  exports.Set("random", Function<&Random>(env, "random"));
  exports.Set("randint", Function<&Randint>(env, "randint"));
  exports.Set("randperm", Function<&Randperm>(env, "randperm"));
  exports.Set("arange", Function<&Arange>(env, "arange"));
  exports.Set("join", Function<&Join>(env, "join"));
  exports.Set("manualSeed", Function<&ManualSeed>(env, "manualSeed"));
  exports.Set("setNumThreads", Function<&SetNumThreads>(env, "setNumThreads"));
  exports.Set("getNumThreads", Function<&GetNumThreads>(env, "getNumThreads"));
  exports.Set("cudaIsAvailable", Function<&CudaIsAvailable>(env, "cudaIsAvailable"));
  exports.Set("cudaDeviceCount", Function<&CudaDeviceCount>(env, "cudaDeviceCount"));
  exports.Set("cudaSynchronize", Function<&CudaSynchronize>(env, "cudaSynchronize"));
  exports.Set("cudaMemoryAllocated", Function<&CudaMemoryAllocated>(env, "cudaMemoryAllocated"));
  exports.Set("setGradEnabled", Function<&SetGradEnabled>(env, "setGradEnabled"));
  exports.Set("isGradEnabled", Function<&IsGradEnabled>(env, "isGradEnabled"));
}

}  // namespace lt
