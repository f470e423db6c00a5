#include "module.h"

#include <sstream>

#include "common.h"
#include "compat.h"
#include "errors.h"
#include "hold.h"
#include "kernels.h"
#include "memory.h"
#include "tensor.h"
#include "worker.h"

namespace lt {

namespace {

// libtorch's Conv2d and AvgPool2d, taking the faster CPU kernels of kernels.h where they apply.
struct Conv2dImpl : torch::nn::Conv2dImpl {
  using torch::nn::Conv2dImpl::Conv2dImpl;
  at::Tensor forward(const at::Tensor& input) { return Forward(input, /*sigmoid=*/false); }
  // sigmoid(forward(input)), fused where the fast path applies.
  at::Tensor Forward(const at::Tensor& input, bool sigmoid) {
    const auto& o = options;
    const auto* padding = GetIf<torch::ExpandingArray<2>>(&o.padding());
    const bool plain = (*o.stride())[0] == 1 && (*o.stride())[1] == 1 && (*o.dilation())[0] == 1 &&
                       (*o.dilation())[1] == 1 && o.groups() == 1 && GetIf<torch::enumtype::kZeros>(&o.padding_mode());
    if (plain && padding) {
      if (auto out = FastConv2d(input, weight, bias, **padding, sigmoid)) return *out;
    }
    auto out = torch::nn::Conv2dImpl::forward(input);
    return sigmoid ? out.sigmoid() : out;
  }
};
TORCH_MODULE(Conv2d);

struct AvgPool2dImpl : torch::nn::AvgPool2dImpl {
  using torch::nn::AvgPool2dImpl::AvgPool2dImpl;
  at::Tensor forward(const at::Tensor& input) {
    const auto& o = options;
    const bool plain = *o.kernel_size() == *o.stride() && (*o.padding())[0] == 0 && (*o.padding())[1] == 0 &&
                       !o.ceil_mode() && !o.divisor_override();
    if (plain) {
      if (auto out = FastAvgPool2d(input, *o.kernel_size())) return *out;
    }
    return torch::nn::AvgPool2dImpl::forward(input);
  }
};
TORCH_MODULE(AvgPool2d);

int64_t Int(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int64Value(); }
bool Bool(const Napi::Object& o, const char* key) { return o.Get(key).ToBoolean(); }
torch::ExpandingArray<2> Size2(const Napi::Object& o, const char* key) {
  const auto v = ToShape(o.Get(key));
  return torch::ExpandingArray<2>({v.at(0), v.at(1)});
}

torch::nn::Conv2dOptions::padding_mode_t PaddingMode(const std::string& mode) {
  if (mode == "reflect") return torch::kReflect;
  if (mode == "replicate") return torch::kReplicate;
  if (mode == "circular") return torch::kCircular;
  if (mode == "zeros") return torch::kZeros;
  throw std::invalid_argument("unknown padding_mode '" + mode + "'");  // lib/ checks it: a bug, not a default
}

// Builds the libtorch module for `kind` from options that lib/ has validated and completed.
torch::nn::AnyModule Create(const std::string& kind, const Napi::Object& o, const Napi::Value& children) {
  if (kind == "Conv2d") {
    auto options = torch::nn::Conv2dOptions(Int(o, "in_channels"), Int(o, "out_channels"), Size2(o, "kernel_size"))
                       .stride(Size2(o, "stride"))
                       .dilation(Size2(o, "dilation"))
                       .groups(Int(o, "groups"))
                       .bias(Bool(o, "bias"))
                       .padding_mode(PaddingMode(o.Get("padding_mode").As<Napi::String>()));
    const auto padding = o.Get("padding");
    if (padding.IsString()) {
      const std::string mode = padding.As<Napi::String>();
      if (mode == "same") {
        options.padding(torch::kSame);
      } else if (mode == "valid") {
        options.padding(torch::kValid);
      } else {
        throw std::invalid_argument("unknown padding '" + mode + "'");
      }
    } else {
      options.padding(Size2(o, "padding"));
    }
    return torch::nn::AnyModule(Conv2d(options));
  }
  if (kind == "Linear") {
    return torch::nn::AnyModule(torch::nn::Linear(
        torch::nn::LinearOptions(Int(o, "in_features"), Int(o, "out_features")).bias(Bool(o, "bias"))));
  }
  if (kind == "AvgPool2d") {
    auto options = torch::nn::AvgPool2dOptions(Size2(o, "kernel_size"))
                       .stride(Size2(o, "stride"))
                       .padding(Size2(o, "padding"))
                       .ceil_mode(Bool(o, "ceil_mode"))
                       .count_include_pad(Bool(o, "count_include_pad"));
    if (o.Get("divisor_override").IsNumber()) options.divisor_override(Int(o, "divisor_override"));
    return torch::nn::AnyModule(AvgPool2d(options));
  }
  if (kind == "MaxPool2d") {
    return torch::nn::AnyModule(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(Size2(o, "kernel_size"))
                                                         .stride(Size2(o, "stride"))
                                                         .padding(Size2(o, "padding"))
                                                         .dilation(Size2(o, "dilation"))
                                                         .ceil_mode(Bool(o, "ceil_mode"))));
  }
  if (kind == "Sigmoid") return torch::nn::AnyModule(torch::nn::Sigmoid());
  if (kind == "ReLU") return torch::nn::AnyModule(torch::nn::ReLU(torch::nn::ReLUOptions(Bool(o, "inplace"))));
  if (kind == "Tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (kind == "Flatten") {
    return torch::nn::AnyModule(
        torch::nn::Flatten(torch::nn::FlattenOptions().start_dim(Int(o, "start_dim")).end_dim(Int(o, "end_dim"))));
  }
  if (kind == "Reshape") return torch::nn::AnyModule(Reshape(ToShape(o.Get("shape"))));
  if (kind == "Sequential") {
    Sequential sequential;
    const auto array = children.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      // Copies of an AnyModule share its module: the child keeps its identity and parameters.
      sequential->push_back(std::to_string(i), ModuleWrap::From(array.Get(i), "layer")->Any());
    }
    return torch::nn::AnyModule(sequential);
  }
  throw std::invalid_argument("unknown module kind " + kind);
}

}  // namespace

at::Tensor SequentialImpl::forward(at::Tensor x) {
  for (auto it = begin(); it != end(); ++it) {
    const auto next = std::next(it);
    if (auto* conv = it->ptr()->as<Conv2dImpl>(); conv && next != end() && next->ptr()->as<torch::nn::SigmoidImpl>()) {
      x = conv->Forward(x, /*sigmoid=*/true);
      it = next;
      continue;
    }
    x = it->forward(x);
  }
  return x;
}

void ReshapeImpl::pretty_print(std::ostream& stream) const {
  stream << "Reshape(" << c10::IntArrayRef(shape) << ")";
}

Napi::Function ModuleWrap::Init(Napi::Env env) {
  return DefineClass(env, "Module",
                     {
                         Method<&ModuleWrap::Forward>("forward"),
                         Method<&ModuleWrap::ForwardAsync>("forwardAsync"),
                         Method<&ModuleWrap::NamedParameters>("namedParameters"),
                         Method<&ModuleWrap::StateDict>("stateDict"),
                         Method<&ModuleWrap::Train>("train"),
                         Method<&ModuleWrap::To>("to"),
                         Method<&ModuleWrap::SetParameter>("setParameter"),
                     });
}

ModuleWrap* ModuleWrap::From(const Napi::Value& value, const char* what) {
  return UnwrapAs(value, Data(value.Env()).module, what, "a native Module");
}

// new Module(kind, options, children?)
ModuleWrap::ModuleWrap(const Napi::CallbackInfo& info) : Wrap<ModuleWrap>(info) {
  Construct(info, [&] {
    any_ = Create(info[0].As<Napi::String>(), info[1].As<Napi::Object>(), info[2]);
    module_ = any_.ptr();
  });
}

Napi::Value ModuleWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env, *module_);
  const auto& input = TensorWrap::From(info[0], "input");
  // What the result keeps alive: itself plus, in grad mode, the activations its graph saved for backward.
  const auto before = CpuBytesInUse();
  auto output = any_.forward(input);
  const auto held = std::max<int64_t>(CpuBytesInUse() - before, output.storage().nbytes());
  return TensorWrap::New(env, std::move(output), held);
}

namespace {

// forward() on a worker thread, in no-grad mode: for callers that must not block the event loop, such as
// train_ch6's check of the net's output shape (a first forward can take tens of ms while oneDNN builds kernels).
class ForwardWorker : public PromiseWorker {
 public:
  ForwardWorker(Napi::Env env, torch::nn::AnyModule net, at::Tensor input, std::unique_ptr<WorkHold> hold)
      : PromiseWorker(env, "lenet-torch:forward"), net_(std::move(net)), input_(std::move(input)), hold_(std::move(hold)) {}

 protected:
  void Run() override {
    torch::NoGradGuard no_grad;
    output_ = net_.forward(input_);
  }
  Napi::Value Result() override { return TensorWrap::New(Env(), output_); }
  void Release() override { hold_.reset(); }

 private:
  torch::nn::AnyModule net_;
  at::Tensor input_, output_;
  std::unique_ptr<WorkHold> hold_;
};

}  // namespace

Napi::Value ModuleWrap::ForwardAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& input = TensorWrap::From(info[0], "input");
  auto* lent = HoldWrap::FromOptional(info[1], "hold");
  auto* worker = new ForwardWorker(env, any_, input, std::make_unique<WorkHold>(env, lent, *module_, "run by forwardAsync"));
  return worker->Start();
}

Napi::Value ModuleWrap::NamedParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto params = module_->named_parameters(/*recurse=*/true);
  auto result = Napi::Array::New(env, params.size());
  uint32_t i = 0;
  for (const auto& item : params) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, item.key()));
    pair.Set(1u, TensorWrap::New(env, item.value(), /*owned=*/false));
    result.Set(i++, pair);
  }
  return result;
}

// PyTorch's state_dict(): depth first, each module's parameters and then its buffers, under dotted names; detached
// tensors that share memory with them. Refused while the net is held (its values would be read mid-step).
Napi::Value ModuleWrap::StateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env, *module_);
  std::vector<std::pair<std::string, at::Tensor>> entries;
  for (const auto& item : module_->named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) entries.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) entries.emplace_back(prefix + b.key(), b.value());
  }
  auto result = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, entries[i].first));
    pair.Set(1u, TensorWrap::New(env, entries[i].second.detach(), /*owned=*/false));
    result.Set(static_cast<uint32_t>(i), pair);
  }
  return result;
}

Napi::Value ModuleWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env, *module_);
  module_->train(info[0].ToBoolean());
  return env.Undefined();
}

// to(device | null, dtype | null)
Napi::Value ModuleWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env, *module_);
  if (info[0].IsString()) module_->to(ParseDevice(info[0].As<Napi::String>()));
  if (info[1].IsString()) module_->to(ParseDtype(info[1].As<Napi::String>()));
  return env.Undefined();
}

// setParameter(name, tensor): PyTorch's `layer.weight = nn.Parameter(t)`. This module's own parameter `name` takes
// t's values, sharing t's memory, and stays the same leaf tensor with requires_grad, so optimizers and earlier
// parameters() results follow it; its gradient is cleared, as a new Parameter has none. lib/ has checked that the
// parameter exists and that t has its shape, dtype and device.
Napi::Value ModuleWrap::SetParameter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env, *module_);
  const std::string name = info[0].As<Napi::String>();
  const auto& value = TensorWrap::From(info[1], "value");
  {
    auto params = module_->named_parameters(/*recurse=*/false);
    auto* param = params.find(name);
    if (param == nullptr) throw std::invalid_argument("setParameter: no parameter named " + name);
    torch::NoGradGuard no_grad;
    param->set_data(value.detach());
    param->mutable_grad() = at::Tensor();
  }
  return env.Undefined();
}

// libtorch's own description of the module tree, for debugging.
}  // namespace lt
