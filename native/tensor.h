// TensorWrap: the JS handle of one at::Tensor. V8 is told how many bytes the tensor's storage holds, so garbage
// collection keeps pace with native memory in loops that never call dispose().
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include "errors.h"

namespace lt {

// The state behind one handle: the tensor, whether dispose() freed it, the bytes reported to V8 for it (given back
// by dispose() or the finalizer) and the environment those were reported to. Handles live in a process-wide table of
// slots (tensor.cc); a slot is reused once its handle is gone, under a new generation.
struct TensorHandle {
  at::Tensor tensor;
  bool disposed = false;
  int64_t external_bytes = 0;
  napi_env env = nullptr;
  // The slot's generation: a handle names (slot, generation), so one whose slot was reused reads as disposed.
  uint32_t generation = 0;
  // Owned by the innermost torch.tidy() scope open when it was made (freed when the scope ends, no finalizer) rather
  // than by the garbage collector; `moving` while the scope ending hands it to the scope around it.
  bool scoped = false;
  bool moving = false;
  // How many scopes were open when it was made (the innermost is its owner), or when its result moved outwards.
  uint32_t depth = 0;
  // The bytes a scoped handle reports to V8 if it is kept (outlives its scope).
  int64_t pending_bytes = 0;
  // Owned by the garbage collector (kept, or made outside scopes): how many owners it has, Externals whose finalizer
  // frees the slot when the last goes, plus one while `scope_ref`: kept inside a scope (torch.keep, a module
  // attribute), it stays in that scope's list until the scope ends, so that a second Tensor over it that holds the
  // scope's BigInt (as `F.relu(h, true)` returns) stays valid as long as the scope, like any of the scope's handles.
  uint32_t owners = 0;
  bool scope_ref = false;
  // The serial of the scope that made it (or that its result moved to); 0 for none. Kept, it keeps it.
  uint32_t scope = 0;
};

// The JS handle of a tensor names a slot, not an address: bit 63 set (no user-space address has it), a 32-bit
// generation, a 30-bit slot index. Outside torch.tidy() it is a napi External with that name for pointer, whose
// finalizer frees the tensor and gives its bytes back to V8 (it runs inside garbage collection, see CMakeLists.txt,
// and calls no JS). Inside torch.tidy() it is a BigInt of that value: the scope's end frees the tensor (memory reused
// at once, as Python's reference counting does), so it needs no finalizer, and a BigInt costs V8 no weak handle where
// an External, even without a finalizer, costs one. A result that outlives its last scope gets an owner, an External
// with the finalizer, which the JS side keeps with its Tensor. Recognising a handle takes napi_typeof, one read of
// the External or BigInt and a table lookup, with no type tag to set on every result or read on every argument; an
// External of another addon (a real address, bit 63 clear) or a user's BigInt is not one (short of a forged name
// whose generation matches, one chance in 2^32); a stale one (its slot reused) reads as disposed, never as another
// tensor. Its operations are module functions taking the handle first (tensorShape(h), ...).
class TensorWrap {
 public:
  // Wraps a tensor in a new handle; an undefined tensor becomes null. `owned` says whether the handle owns
  // the memory (a new result) rather than viewing a tensor something else keeps alive (a module's parameter, its
  // gradient): only owned memory is reported to V8, or every parameters() call would look like an allocation.
  static Napi::Value New(Napi::Env env, at::Tensor tensor, bool owned = true);
  // A result that holds `bytes` of native memory in all, its autograd graph included (see memory.h).
  static Napi::Value New(Napi::Env env, at::Tensor tensor, int64_t bytes);
  // The tensor behind a JS handle; a TypeError naming `what` if it is not one, an Error if it was disposed, the
  // hold's Error while a training holds it (see hold.h).
  static const at::Tensor& From(const Napi::Value& value, const char* what);
  // Whether `value` is a handle: an External or a BigInt naming a slot of the handle table (see above).
  static bool Is(const Napi::Value& value);
  // The state behind `value` when it is a handle (a disposed one for a stale handle), nullptr when it is not: one
  // napi call, which Is(), HandleOf(), TryFrom() and the operator road's classification all come down to.
  static TensorHandle* HandleOfValue(const Napi::Value& value);
  // The tensor behind a handle's state, for reading or writing (an Error once disposed, refused while a training
  // holds it).
  static const at::Tensor& FromHandle(Napi::Env env, const TensorHandle* h);
  // From() when `value` is a handle, nullptr when it is not: one lookup where Is() then From() make two (the
  // operator road converts every tensor argument so).
  static const at::Tensor* TryFrom(const Napi::Value& value);
  // The state behind a handle, disposed or not; a TypeError naming `what` if `value` is not a handle.
  static TensorHandle* HandleOf(const Napi::Value& value, const char* what);
  // The tensors of a JS array of handles (From() for each).
  static std::vector<at::Tensor> List(const Napi::Value& value, const char* what);
};

// Module-level tensor functions: the handle's operations (tensorShape(h), ...), creation, seeding, threads, CUDA
// queries, grad mode.
void InitTensorFunctions(Napi::Env env, Napi::Object exports);

}  // namespace lt
