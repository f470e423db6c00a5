#include "hold.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common.h"
#include "module.h"
#include "tensor.h"

namespace lt {

namespace {

std::mutex g_mutex;
// Key (a module, or a parameter's StorageImpl) -> what holds it.
std::unordered_map<const void*, const std::string*> g_held;
// Lets the common case (nothing held) skip the lock.
std::atomic<size_t> g_count{0};

const void* StorageKey(const at::Tensor& t) {
  return t.defined() && t.has_storage() ? static_cast<const void*>(t.storage().unsafeGetStorageImpl()) : nullptr;
}

// Keys are addresses, so a hold keeps what they address alive (`owners`, when given) until it lets go: else a
// module or storage freed while held (a net whose last JS handle was collected during a broadcast, say) could leave
// its address to a new tensor, which would then be refused.
using Owners = std::vector<std::shared_ptr<const void>>;

// A tensor's storage among the keys (none for a tensor without one), kept alive through `owners` when given.
void AddStorage(const at::Tensor& t, std::vector<const void*>* keys, Owners* owners) {
  const auto* key = StorageKey(t);
  if (key == nullptr) return;
  keys->push_back(key);
  if (owners != nullptr) owners->push_back(std::make_shared<c10::Storage>(t.storage()));
}

std::vector<const void*> TreeKeys(const torch::nn::Module& root,
                                 Owners* owners = nullptr) {
  std::vector<const void*> keys{&root};
  if (owners != nullptr) {
    try {
      owners->push_back(const_cast<torch::nn::Module&>(root).shared_from_this());
    } catch (const std::bad_weak_ptr&) {
      // Not owned by a shared_ptr: its owner (the caller) keeps it alive.
    }
  }
  // Only what lives as long as the hold: modules and parameter storages. Gradients are not keys (they are replaced
  // at every step, and a freed storage's address may be reused by another tensor); they are reached through their
  // parameter, which is.
  for (const auto& m : root.modules(/*include_self=*/false)) {
    keys.push_back(m.get());
    if (owners != nullptr) owners->push_back(m);
  }
  for (const auto& p : root.parameters(/*recurse=*/true)) AddStorage(p, &keys, owners);
  for (const auto& b : root.buffers(/*recurse=*/true)) AddStorage(b, &keys, owners);
  return keys;
}

[[noreturn]] void Refuse(Napi::Env env, const std::string& activity, const char* what) {
  throw Napi::Error::New(env, std::string("lenet-torch: ") + what + " belongs to a net that is being " + activity +
                                  " on another thread; await that call, or abort it, before using the net, its "
                                  "parameters, gradients or optimizer");
}

// The activity holding any of keys, or null. Caller holds g_mutex, and copies what it needs before letting go of it
// to throw: making a JS Error allocates, a garbage collection may then finalize a HoldWrap, and ~Hold takes g_mutex.
const std::string* Holder(const std::vector<const void*>& keys) {
  for (const auto* key : keys) {
    const auto it = g_held.find(key);
    if (it != g_held.end()) return it->second;
  }
  return nullptr;
}

// A copy of the activity holding any of keys, taken under g_mutex; nullopt when none does.
std::optional<std::string> HeldBy(const std::vector<const void*>& keys) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const auto* holder = Holder(keys);
  return holder != nullptr ? std::optional<std::string>(*holder) : std::nullopt;
}

}  // namespace

std::unique_ptr<Hold> Hold::Acquire(Napi::Env env, const torch::nn::Module& root, const std::string& activity) {
  return Acquire(env, std::vector<const torch::nn::Module*>{&root}, activity);
}

std::unique_ptr<Hold> Hold::Acquire(Napi::Env env, const std::vector<const torch::nn::Module*>& roots,
                                    const std::string& activity) {
  return Acquire(env, roots, {}, activity);
}

std::unique_ptr<Hold> Hold::Acquire(Napi::Env env, const std::vector<const torch::nn::Module*>& roots,
                                    const std::vector<at::Tensor>& tensors, const std::string& activity) {
  std::vector<const void*> keys;
  Owners owners;
  for (const auto* root : roots) {
    const auto tree = TreeKeys(*root, &owners);
    keys.insert(keys.end(), tree.begin(), tree.end());
  }
  for (const auto& t : tensors) AddStorage(t, &keys, &owners);
  std::unique_ptr<Hold> hold(new Hold({}, activity));
  hold->owners_ = std::move(owners);
  std::optional<std::string> refused;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (const auto* holder = Holder(keys)) {
      refused = *holder;
    } else {
      for (const auto* key : keys) {
        // A tree may reach one module or storage twice (a shared layer): hold it once.
        if (g_held.emplace(key, &hold->activity_).second) hold->keys_.push_back(key);
      }
      g_count = g_held.size();
    }
  }
  if (refused) Refuse(env, *refused, "this module");
  return hold;
}

Hold::Hold(std::vector<const void*> keys, std::string activity) : keys_(std::move(keys)), activity_(std::move(activity)) {}

Hold::~Hold() {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const auto* key : keys_) g_held.erase(key);
  g_count = g_held.size();
}

void CheckNotHeld(Napi::Env env, const at::Tensor& tensor) {
  if (g_count.load(std::memory_order_acquire) == 0) return;
  const auto* key = StorageKey(tensor);
  if (key == nullptr) return;
  std::optional<std::string> refused;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    const auto it = g_held.find(key);
    if (it != g_held.end()) refused = *it->second;
  }
  if (refused) Refuse(env, *refused, "this tensor (a parameter, or memory shared with one)");
}

void CheckNotHeld(Napi::Env env, const torch::nn::Module& root) {
  if (g_count.load(std::memory_order_acquire) == 0) return;
  if (const auto refused = HeldBy(TreeKeys(root))) Refuse(env, *refused, "this module");
}

Napi::Function HoldWrap::Init(Napi::Env env) {
  return DefineClass(env, "Hold",
                     {
                         Method<&HoldWrap::Acquire>("acquire"),
                         Method<&HoldWrap::Release>("release"),
                     });
}

HoldWrap* HoldWrap::FromOptional(const Napi::Value& value, const char* what) {
  return UnwrapOptional(value, Data(value.Env()).hold, what, "Hold");
}

// new Hold(modules, activity, tensors?)
HoldWrap::HoldWrap(const Napi::CallbackInfo& info) : Wrap<HoldWrap>(info) {
  Construct(info, [&] {
    const auto modules = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < modules.Length(); ++i) roots_.push_back(ModuleWrap::From(modules.Get(i), "modules")->module());
    activity_ = info[1].As<Napi::String>();
    if (info[2].IsArray()) tensors_ = TensorWrap::List(info[2], "tensors");
    Acquire(info);
  });
}

bool HoldWrap::Covers(const torch::nn::Module& module) const {
  if (!hold_) return false;
  for (const auto& root : roots_) {
    if (root.get() == &module) return true;
  }
  return false;
}

bool HoldWrap::Covers(const std::vector<at::Tensor>& tensors) const {
  if (!hold_) return false;
  for (const auto& t : tensors) {
    const bool held = std::any_of(tensors_.begin(), tensors_.end(), [&](const at::Tensor& h) { return StorageKey(h) == StorageKey(t); });
    if (!held) return false;
  }
  return true;
}

Napi::Value HoldWrap::Acquire(const Napi::CallbackInfo& info) {
  if (!hold_) {
    std::vector<const torch::nn::Module*> roots;
    for (const auto& root : roots_) roots.push_back(root.get());
    hold_ = Hold::Acquire(info.Env(), roots, tensors_, activity_);
  }
  return info.Env().Undefined();
}

// -> whether the hold was let go of: not while native work runs under it.
Napi::Value HoldWrap::Release(const Napi::CallbackInfo& info) {
  if (lent_ > 0) return Napi::Boolean::New(info.Env(), false);
  hold_.reset();
  return Napi::Boolean::New(info.Env(), true);
}


WorkHold::WorkHold(Napi::Env env, HoldWrap* lent, const torch::nn::Module& root, const std::string& activity) {
  if (lent != nullptr && lent->Covers(root)) {
    lent_ = lent;
    lent_ref_ = Napi::Persistent(lent->Value());
    lent_->Lend();
  } else {
    own_ = Hold::Acquire(env, root, activity);
  }
}

WorkHold::WorkHold(Napi::Env env, HoldWrap* lent, const std::vector<at::Tensor>& tensors, const std::string& activity) {
  if (lent != nullptr && lent->Covers(tensors)) {
    lent_ = lent;
    lent_ref_ = Napi::Persistent(lent->Value());
    lent_->Lend();
  } else {
    own_ = Hold::Acquire(env, {}, tensors, activity);
  }
}

WorkHold::~WorkHold() { Release(); }

void WorkHold::Release() {
  if (lent_ != nullptr) {
    lent_->Unlend();
    lent_ = nullptr;
    lent_ref_.Reset();
  }
  own_.reset();
}

namespace {

// checkNotHeld(modules, tensors?): throws the hold's Error when any of the modules' trees, or any of the tensors'
// memory, is held (a net written in JS asks this before changing any of its layers, so that a refusal changes
// nothing).
Napi::Value CheckNotHeldFn(const Napi::CallbackInfo& info) {
  const auto modules = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < modules.Length(); ++i) CheckNotHeld(info.Env(), *ModuleWrap::From(modules.Get(i), "modules")->module());
  if (info[1].IsArray()) {
    const auto tensors = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < tensors.Length(); ++i) CheckNotHeld(info.Env(), TensorWrap::From(tensors.Get(i), "tensors"));
  }
  return info.Env().Undefined();
}

}  // namespace

void InitHold(Napi::Env env, Napi::Object exports) {
  auto hold = HoldWrap::Init(env);
  Data(env).hold = Napi::Persistent(hold);
  exports.Set("Hold", hold);
  exports.Set("checkNotHeld", Function<&CheckNotHeldFn>(env, "checkNotHeld"));
}

}  // namespace lt
