#include "data.h"

#include "errors.h"
#include "tensor.h"

namespace lt {

BatchSource ParseSource(const Napi::Value& value) {
  const auto o = value.As<Napi::Object>();
  BatchSource source;
  source.x = TensorWrap::From(o.Get("x"), "source.x");
  source.y = TensorWrap::From(o.Get("y"), "source.y");
  if (o.Get("scale").IsNumber()) source.scale = o.Get("scale").As<Napi::Number>().DoubleValue();
  if (o.Get("resize").IsArray()) {
    const auto r = o.Get("resize").As<Napi::Array>();
    source.resize = std::make_pair(r.Get(0u).As<Napi::Number>().Int64Value(), r.Get(1u).As<Napi::Number>().Int64Value());
  }
  return source;
}

std::pair<at::Tensor, at::Tensor> MakeBatch(const BatchSource& source, const at::Tensor& order, int64_t start,
                                            int64_t end) {
  at::Tensor x;
  at::Tensor y;
  if (order.defined()) {
    const auto index = order.slice(0, start, end);
    x = source.x.index_select(0, index);
    y = source.y.index_select(0, index);
  } else {
    x = source.x.slice(0, start, end);
    y = source.y.slice(0, start, end);
  }
  if (!source.scale && !source.resize) return {x.contiguous(), y.contiguous()};
  const bool from_bytes = x.scalar_type() == at::kByte;
  x = x.to(at::kFloat);
  if (source.resize) {
    // torchvision resizes the PIL image: bilinear, antialiased when shrinking, rounded back to bytes.
    x = torch::nn::functional::interpolate(
        x, torch::nn::functional::InterpolateFuncOptions()
               .size(std::vector<int64_t>{source.resize->first, source.resize->second})
               .mode(torch::kBilinear)
               .align_corners(false)
               .antialias(true));
    if (from_bytes) x = x.round_().clamp_(0, 255);
  }
  // In place only on a copy: without a conversion or a resize, x may still be a view of the stored data set.
  if (source.scale) x = from_bytes || source.resize ? x.mul_(*source.scale) : x.mul(*source.scale);
  return {x, y.contiguous()};
}

namespace {

// batch(source, order | null, start, end) -> [X, y]
Napi::Value Batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto source = ParseSource(info[0]);
  at::Tensor order;
  if (!info[1].IsNull() && !info[1].IsUndefined()) order = TensorWrap::From(info[1], "order");
  const auto start = info[2].As<Napi::Number>().Int64Value();
  const auto end = info[3].As<Napi::Number>().Int64Value();
  auto [x, y] = MakeBatch(source, order, start, end);
  auto pair = Napi::Array::New(env, 2);
  pair.Set(0u, TensorWrap::New(env, x));
  pair.Set(1u, TensorWrap::New(env, y));
  return pair;
}

}  // namespace

void InitData(Napi::Env env, Napi::Object exports) { exports.Set("batch", Function<&Batch>(env, "batch")); }

}  // namespace lt
