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

namespace lt {

class Hold {
 public:
  // Holds root's tree for `activity` ("trained by train_ch6", "evaluated by evaluate_accuracy_gpu", ...); throws an
  // Error, holding nothing, when any part of it is held already.
  static std::unique_ptr<Hold> Acquire(Napi::Env env, const torch::nn::Module& root, const std::string& activity);
  ~Hold();
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  Hold(std::vector<const void*> keys, std::string activity);
  std::vector<const void*> keys_;
  std::string activity_;
};

// Throw the one Error when the tensor's memory, or any module or parameter of the tree, is held.
void CheckNotHeld(Napi::Env env, const at::Tensor& tensor);
void CheckNotHeld(Napi::Env env, const torch::nn::Module& root);

}  // namespace lt
