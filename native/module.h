// ModuleWrap: a JS handle over a libtorch module (torch::nn::Conv2d, ..., a torch::nn::Sequential of them).
// The handle owns a shared_ptr, so a layer held by JS and the same layer inside a Sequential are one object with
// one set of parameters.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include "errors.h"

#include <memory>
#include <string>

namespace lt {

// The chapter's Reshape helper: x.view(shape).
struct ReshapeImpl : torch::nn::Module {
  explicit ReshapeImpl(std::vector<int64_t> shape) : shape(std::move(shape)) {}
  at::Tensor forward(const at::Tensor& x) { return x.view(shape); }
  void pretty_print(std::ostream& stream) const override;
  std::vector<int64_t> shape;
};
TORCH_MODULE(Reshape);

// torch::nn::Sequential's forward is a template, which AnyModule cannot hold; this one takes and returns a Tensor,
// so a Sequential can nest inside another. A Conv2d followed by a Sigmoid runs as one fused operation (module.cc).
struct SequentialImpl : torch::nn::SequentialImpl {
  using torch::nn::SequentialImpl::SequentialImpl;
  at::Tensor forward(at::Tensor x);
};
TORCH_MODULE(Sequential);

class ModuleWrap : public Wrap<ModuleWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // The module behind a JS handle; a TypeError naming `what` if the value is not one.
  static ModuleWrap* From(const Napi::Value& value, const char* what);

  explicit ModuleWrap(const Napi::CallbackInfo& info);

  const std::shared_ptr<torch::nn::Module>& module() const { return module_; }
  const torch::nn::AnyModule& Any() const { return any_; }

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value ForwardAsync(const Napi::CallbackInfo& info);
  Napi::Value NamedParameters(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value SetParameter(const Napi::CallbackInfo& info);

  std::shared_ptr<torch::nn::Module> module_;
  torch::nn::AnyModule any_;
};

}  // namespace lt
