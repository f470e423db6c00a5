// One owner for "this net is in use on another thread". While train_ch6 trains a net, or evaluate_accuracy_gpu or
// a shape probe runs it, a Hold covers every module of its tree and the memory of every parameter; each JS entry
// point that reads or writes a module, a tensor or an optimizer asks here first and is refused with one message.
// Holds are keyed by module and by storage, so a layer shared with another net, a detached view of a weight or a
// gradient handle is covered too. Process-wide (a storage may not leave its process) and safe across threads.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "errors.h"

namespace lt {

class Hold {
 public:
  // Holds root's tree for `activity` ("trained by train_ch6", "evaluated by evaluate_accuracy_gpu", ...); throws an
  // Error, holding nothing, when any part of it is held already.
  static std::unique_ptr<Hold> Acquire(Napi::Env env, const torch::nn::Module& root, const std::string& activity);
  static std::unique_ptr<Hold> Acquire(Napi::Env env, const std::vector<const torch::nn::Module*>& roots,
                                       const std::string& activity);
  // Also the memory of `tensors`: the parameters and buffers of modules written in JS, which no libtorch module
  // holds.
  static std::unique_ptr<Hold> Acquire(Napi::Env env, const std::vector<const torch::nn::Module*>& roots,
                                       const std::vector<at::Tensor>& tensors, const std::string& activity);
  ~Hold();
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  Hold(std::vector<const void*> keys, std::string activity);
  std::vector<const void*> keys_;
  // What keys_ address, kept alive while held (a freed address could be reused by an unrelated tensor).
  std::vector<std::shared_ptr<const void>> owners_;
  std::string activity_;
};

// A hold that JS keeps across calls: train_ch6 holds its net from start to end, lends the hold to each native run
// of batches, evaluation and probe, and lets go of it only while its own callbacks (on_batch, on_epoch) run.
//   new Hold(modules, activity, tensors?)
//                                 holds at once (an Error if any part is held already); `tensors`: memory outside
//                                 the modules' trees (the parameters of modules written in JS)
//   acquire() / release()         again and again; release() keeps the hold (returns false) while native work
//                                 runs under it
class HoldWrap : public Wrap<HoldWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // A Hold handle, or null / undefined: nullptr. A TypeError naming `what` for anything else.
  static HoldWrap* FromOptional(const Napi::Value& value, const char* what);
  explicit HoldWrap(const Napi::CallbackInfo& info);

  // Whether this hold is in place over `module` (one of its roots): native work may then run under it.
  bool Covers(const torch::nn::Module& module) const;
  // Whether this hold is in place over the memory of every one of `tensors`.
  bool Covers(const std::vector<at::Tensor>& tensors) const;
  // Native work under this hold: release() is refused until as many Unlend() calls. Main thread only.
  void Lend() { ++lent_; }
  void Unlend() { --lent_; }

 private:
  Napi::Value Acquire(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);

  std::vector<std::shared_ptr<torch::nn::Module>> roots_;
  std::vector<at::Tensor> tensors_;
  std::string activity_;
  std::unique_ptr<Hold> hold_;
  int lent_ = 0;
};

// Native work that runs on a net under a JS-kept hold when one is given and covers the net, else under a hold of
// its own; either way until Release(). Acquire on the main thread, before queuing the work.
class WorkHold {
 public:
  WorkHold(Napi::Env env, HoldWrap* lent, const torch::nn::Module& root, const std::string& activity);
  // For a net known by its tensors (a traced net written in JS): under `lent` when it covers them all.
  WorkHold(Napi::Env env, HoldWrap* lent, const std::vector<at::Tensor>& tensors, const std::string& activity);
  ~WorkHold();
  void Release();

 private:
  Napi::ObjectReference lent_ref_;
  HoldWrap* lent_ = nullptr;
  std::unique_ptr<Hold> own_;
};

void InitHold(Napi::Env env, Napi::Object exports);

// Throw the one Error when the tensor's memory, or any module or parameter of the tree, is held.
void CheckNotHeld(Napi::Env env, const at::Tensor& tensor);
void CheckNotHeld(Napi::Env env, const torch::nn::Module& root);

}  // namespace lt
