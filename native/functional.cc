#include "functional.h"

#include <string>

#include "errors.h"
#include "optimizer.h"
#include "tensor.h"

namespace lt {

CrossEntropySpec ParseCrossEntropy(const Napi::Object& o) {
  CrossEntropySpec spec;
  const Napi::Value weight = o.Get("weight");
  if (!weight.IsNull() && !weight.IsUndefined()) spec.weight = TensorWrap::From(weight, "weight");
  spec.ignore_index = o.Get("ignore_index").As<Napi::Number>().Int64Value();
  spec.label_smoothing = o.Get("label_smoothing").As<Napi::Number>().DoubleValue();
  const std::string reduction = o.Get("reduction").As<Napi::String>();
  if (reduction == "sum") {
    spec.reduction = torch::kSum;
  } else if (reduction == "none") {
    spec.reduction = torch::kNone;
  } else if (reduction != "mean") {
    throw std::invalid_argument("unknown reduction '" + reduction + "'");  // lib/ checks it: a bug, not a default
  }
  return spec;
}

at::Tensor CrossEntropy(const at::Tensor& input, const at::Tensor& target, const CrossEntropySpec& spec) {
  return torch::nn::functional::cross_entropy(input, target,
                                              torch::nn::functional::CrossEntropyFuncOptions()
                                                  .weight(spec.weight)
                                                  .ignore_index(spec.ignore_index)
                                                  .label_smoothing(spec.label_smoothing)
                                                  .reduction(spec.reduction));
}

namespace {

// crossEntropy(input, target, {reduction, ignore_index, label_smoothing})
Napi::Value CrossEntropyFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& input = TensorWrap::From(info[0], "input");
  const auto& target = TensorWrap::From(info[1], "target");
  return TensorWrap::New(env, CrossEntropy(input, target, ParseCrossEntropy(info[2].As<Napi::Object>())));
}

// init(kind, tensor, a, b): fills the tensor in place, without recording autograd history.
Napi::Value InitFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].As<Napi::String>();
  const auto& t = TensorWrap::From(info[1], "tensor");
  const double a = info[2].As<Napi::Number>().DoubleValue();
  const double b = info[3].As<Napi::Number>().DoubleValue();
  {
    namespace init = torch::nn::init;
    if (kind == "xavier_uniform_") {
      init::xavier_uniform_(t, a);
    } else if (kind == "xavier_normal_") {
      init::xavier_normal_(t, a);
    } else if (kind == "normal_") {
      init::normal_(t, a, b);
    } else if (kind == "uniform_") {
      init::uniform_(t, a, b);
    } else if (kind == "constant_") {
      init::constant_(t, a);
    } else if (kind == "zeros_") {
      init::zeros_(t);
    } else if (kind == "ones_") {
      init::ones_(t);
    } else {
      throw std::invalid_argument("unknown initialiser " + kind);
    }
  }
  return env.Undefined();
}

// zeroGrad(params, setToNone): Module.zero_grad().
Napi::Value ZeroGradFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ZeroGrad(TensorWrap::List(info[0], "params"), info[1].ToBoolean());
  return env.Undefined();
}

}  // namespace

void InitFunctional(Napi::Env env, Napi::Object exports) {
  exports.Set("crossEntropy", Function<&CrossEntropyFn>(env, "crossEntropy"));
  exports.Set("init", Function<&InitFn>(env, "init"));
  exports.Set("zeroGrad", Function<&ZeroGradFn>(env, "zeroGrad"));
}

}  // namespace lt
