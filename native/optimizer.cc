#include "optimizer.h"

#include "common.h"
#include "errors.h"
#include "hold.h"
#include "tensor.h"

namespace lt {

void ZeroGrad(const std::vector<at::Tensor>& params, bool set_to_none) {
  for (const auto& p : params) {
    auto& grad = const_cast<at::Tensor&>(p).mutable_grad();
    if (!grad.defined()) continue;
    if (set_to_none) {
      grad.reset();
    } else {
      grad.detach_();
      grad.zero_();
    }
  }
}

Napi::Function SGDWrap::Init(Napi::Env env) {
  return DefineClass(env, "SGD",
                     {
                         Method<&SGDWrap::ZeroGrad>("zeroGrad"),
                         Method<&SGDWrap::Step>("step"),
                         Method<&SGDWrap::SetLr>("setLr"),
                     });
}

SGDWrap* SGDWrap::From(const Napi::Value& value, const char* what) {
  return UnwrapAs(value, Data(value.Env()).sgd, what, "a native SGD");
}

// new SGD(params: Tensor[], {lr, momentum, dampening, weight_decay, nesterov})
SGDWrap::SGDWrap(const Napi::CallbackInfo& info) : Wrap<SGDWrap>(info) {
  Construct(info, [&] {
    const auto params = TensorWrap::List(info[0], "params");
    const auto o = info[1].As<Napi::Object>();
    auto number = [&](const char* key) { return o.Get(key).As<Napi::Number>().DoubleValue(); };
    optimizer_ = std::make_shared<torch::optim::SGD>(params, torch::optim::SGDOptions(number("lr"))
                                                                   .momentum(number("momentum"))
                                                                   .dampening(number("dampening"))
                                                                   .weight_decay(number("weight_decay"))
                                                                   .nesterov(o.Get("nesterov").ToBoolean()));
  });
}

void SGDWrap::CheckNotHeld(Napi::Env env) const {
  for (const auto& group : optimizer_->param_groups()) {
    for (const auto& p : group.params()) lt::CheckNotHeld(env, p);
  }
}

Napi::Value SGDWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env);
  for (auto& group : optimizer_->param_groups()) lt::ZeroGrad(group.params(), info[0].ToBoolean());
  return env.Undefined();
}

Napi::Value SGDWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env);
  optimizer_->step();
  return env.Undefined();
}

Napi::Value SGDWrap::SetLr(const Napi::CallbackInfo& info) {
  CheckNotHeld(info.Env());
  const double lr = info[0].As<Napi::Number>().DoubleValue();
  for (auto& group : optimizer_->param_groups()) {
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
  }
  return info.Env().Undefined();
}

}  // namespace lt
