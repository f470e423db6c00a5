// SGDWrap: torch::optim::SGD over parameter tensors handed in from JS.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <memory>

#include "errors.h"

namespace lt {

class SGDWrap : public Wrap<SGDWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit SGDWrap(const Napi::CallbackInfo& info);
  static SGDWrap* From(const Napi::Value& value, const char* what);
  const std::shared_ptr<torch::optim::SGD>& optimizer() const { return optimizer_; }

 private:
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value SetLr(const Napi::CallbackInfo& info);
  // Refuses while a training holds any of the parameters (see hold.h).
  void CheckNotHeld(Napi::Env env) const;

  std::shared_ptr<torch::optim::SGD> optimizer_;
};

// Clears the gradients of `params`: to None (no memset, the next backward allocates) or to zero.
void ZeroGrad(const std::vector<at::Tensor>& params, bool set_to_none);

}  // namespace lt
