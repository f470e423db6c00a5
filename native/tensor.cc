#include "tensor.h"

#ifdef LT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <cmath>
#include <cstring>
#include <string>

#include "common.h"
#include "errors.h"
#include "hold.h"

namespace lt {

namespace {

int64_t StorageNbytes(const at::Tensor& t) {
  return t.defined() && t.has_storage() ? static_cast<int64_t>(t.storage().nbytes()) : 0;
}

c10::TensorOptions Options(const Napi::Value& dtype, const Napi::Value& device) {
  auto options = c10::TensorOptions();
  if (dtype.IsString()) options = options.dtype(ParseDtype(dtype.As<Napi::String>()));
  if (device.IsString()) options = options.device(ParseDevice(device.As<Napi::String>()));
  return options;
}

// A typed array's bytes as a tensor of the matching dtype (copied, so JS may reuse the buffer).
at::Tensor FromTypedArray(const Napi::TypedArray& array, const std::vector<int64_t>& shape) {
  const at::ScalarType type = TypedArrayDtype(array.TypedArrayType());
  // lib/ matches the shape to the data; reading past the buffer would be a crash, so this one check stays.
  const auto numel = c10::multiply_integers(shape);
  if (numel != static_cast<int64_t>(array.ElementLength())) {
    throw std::invalid_argument("fromData: the shape holds " + std::to_string(numel) + " elements but the data " +
                                std::to_string(array.ElementLength()));
  }
  auto* bytes = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return torch::from_blob(bytes, shape, at::TensorOptions().dtype(type)).clone();
}

Napi::Value Scalar(Napi::Env env, const at::Scalar& s) {
  if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
  if (s.isIntegral(/*includeBool=*/false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
  return Napi::Number::New(env, s.toDouble());
}

at::Scalar ToScalar(const Napi::Value& v) { return at::Scalar(v.As<Napi::Number>().DoubleValue()); }

// A number as the other operand of `self`'s binary op. With an integer (or bool) tensor, an integral number is a
// Python int, so PyTorch's type promotion keeps the tensor's dtype (int64 labels + 1 stay int64, 2**40 + 1 keeps
// its value); any other number is a Python float (int tensor * 2.5 -> float32).
at::Scalar Operand(const Napi::Value& v, const at::Tensor& self) {
  const double d = v.As<Napi::Number>().DoubleValue();
  constexpr double kInt64End = 9223372036854775808.0;  // 2^63
  if (at::isIntegralType(self.scalar_type(), /*includeBool=*/true) && std::trunc(d) == d && d >= -kInt64End &&
      d < kInt64End) {
    return at::Scalar(static_cast<int64_t>(d));
  }
  return at::Scalar(d);
}

// lib/'s index list as libtorch's: a number, a boolean, null (None), '...' (Ellipsis), [start | null, stop | null,
// step] (a Slice) or a Tensor.
std::vector<at::indexing::TensorIndex> ToIndices(const Napi::Value& value) {
  const auto items = value.As<Napi::Array>();
  std::vector<at::indexing::TensorIndex> indices;
  indices.reserve(items.Length());
  for (uint32_t i = 0; i < items.Length(); ++i) {
    const Napi::Value item = items.Get(i);
    if (item.IsNull()) {
      indices.emplace_back(at::indexing::None);
    } else if (item.IsString()) {
      indices.emplace_back(at::indexing::Ellipsis);
    } else if (item.IsBoolean()) {
      indices.emplace_back(item.As<Napi::Boolean>().Value());
    } else if (item.IsNumber()) {
      indices.emplace_back(item.As<Napi::Number>().Int64Value());
    } else if (item.IsArray()) {
      const auto parts = item.As<Napi::Array>();
      c10::optional<int64_t> bounds[2];
      for (uint32_t b = 0; b < 2; ++b) {
        const Napi::Value v = parts.Get(b);
        if (v.IsNumber()) bounds[b] = v.As<Napi::Number>().Int64Value();
      }
      indices.emplace_back(at::indexing::Slice(bounds[0], bounds[1], parts.Get(2u).As<Napi::Number>().Int64Value()));
    } else {
      indices.emplace_back(TensorWrap::From(item, "indices"));
    }
  }
  return indices;
}

}  // namespace

Napi::Function TensorWrap::Init(Napi::Env env) {
  return DefineClass(env, "Tensor",
                     {
                         Method<&TensorWrap::Shape>("shape"),
                         Method<&TensorWrap::Dtype>("dtype"),
                         Method<&TensorWrap::Device>("device"),
                         Method<&TensorWrap::Numel>("numel"),
                         Method<&TensorWrap::RequiresGrad>("requiresGrad"),
                         Method<&TensorWrap::SetRequiresGrad>("setRequiresGrad"),
                         Method<&TensorWrap::SetData>("setData"),
                         Method<&TensorWrap::IsLeaf>("isLeaf"),
                         Method<&TensorWrap::GradFn>("gradFn"),
                         Method<&TensorWrap::Grad>("grad"),
                         Method<&TensorWrap::To>("to"),
                         Method<&TensorWrap::Item>("item"),
                         Method<&TensorWrap::Data>("data"),
                         Method<&TensorWrap::Reshape>("reshape"),
                         Method<&TensorWrap::View>("view"),
                         Method<&TensorWrap::Index>("index"),
                         Method<&TensorWrap::IndexPut>("indexPut"),
                         Method<&TensorWrap::Backward>("backward"),
                         Method<&TensorWrap::Identity>("identity"),
                         Method<&TensorWrap::Dispose>("dispose"),
                         Method<&TensorWrap::IsDisposed>("isDisposed"),
                     });
}

Napi::Value TensorWrap::New(Napi::Env env, at::Tensor tensor, bool owned) {
  return New(env, std::move(tensor), owned ? int64_t{-1} : int64_t{0});
}

namespace {
// The tensor New() is wrapping, and the bytes it reports, for the constructor it calls (on this thread, within that
// call): passed this way rather than as arguments, which cost an External and a Number per result.
struct Pending {
  at::Tensor* tensor = nullptr;
  int64_t bytes = 0;
};
thread_local Pending g_pending;
}  // namespace

Napi::Value TensorWrap::New(Napi::Env env, at::Tensor tensor, int64_t bytes) {
  if (!tensor.defined()) return env.Null();
  // -1: the tensor's own storage.
  const int64_t reported = bytes < 0 ? StorageNbytes(tensor) : std::max(bytes, int64_t{0});
  g_pending = {&tensor, reported};
  napi_value object = nullptr;
  const napi_status status = napi_new_instance(env, lt::Data(env).tensor.Value(), 0, nullptr, &object);
  g_pending = {};
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return Napi::Value(env, object);
}

bool TensorWrap::Is(const Napi::Value& value) {
  if (!value.IsObject()) return false;
  napi_value prototype = nullptr;
  bool same = false;
  Napi::Env env = value.Env();
  return napi_get_prototype(env, value, &prototype) == napi_ok &&
         napi_strict_equals(env, prototype, lt::Data(env).tensor_prototype.Value(), &same) == napi_ok && same;
}

const at::Tensor& TensorWrap::From(const Napi::Value& value, const char* what) {
  if (!Is(value)) throw Napi::TypeError::New(value.Env(), std::string("Expected ") + what + " to be a Tensor");
  return Unwrap(value.As<Napi::Object>())->Get(value.Env());
}

std::vector<at::Tensor> TensorWrap::List(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string("Expected ") + what + " to be an array");
  const auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> tensors;
  tensors.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) tensors.push_back(From(array.Get(i), what));
  return tensors;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Wrap<TensorWrap>(info) {
  Construct(info, [&] {
    Napi::Env env = info.Env();
    if (g_pending.tensor == nullptr) {
      throw Napi::TypeError::New(env, "Tensor cannot be constructed directly: use torch.tensor() or torch.zeros()");
    }
    tensor_ = std::move(*g_pending.tensor);
    env_ = env;
    external_bytes_ = g_pending.bytes;
    g_pending = {};
    if (external_bytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, external_bytes_);
  });
}

TensorWrap::~TensorWrap() { Release(); }

// Frees the tensor now rather than at the next garbage collection; safe to call twice.
void TensorWrap::Release() {
  tensor_ = at::Tensor();
  if (external_bytes_ > 0) {
    int64_t adjusted = 0;
    napi_adjust_external_memory(env_, -external_bytes_, &adjusted);
    external_bytes_ = 0;
  }
}

const at::Tensor& TensorWrap::Meta(const Napi::Env& env) const {
  if (disposed_) throw Napi::Error::New(env, "Tensor was disposed: it can no longer be used");
  return tensor_;
}

const at::Tensor& TensorWrap::Get(const Napi::Env& env) const {
  // Values, gradients and flags of a net that trains on another thread are off limits (see hold.h).
  CheckNotHeld(env, Meta(env));
  return tensor_;
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  return FromShape(info.Env(), Meta(info.Env()).sizes());
}

Napi::Value TensorWrap::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(Meta(info.Env()).scalar_type()));
}

Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DeviceName(Meta(info.Env()).device()));
}

Napi::Value TensorWrap::Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Meta(info.Env()).numel()));
}

Napi::Value TensorWrap::RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Meta(info.Env()).requires_grad());
}

Napi::Value TensorWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // requires_grad_(), not set_requires_grad(): it refuses to turn a non-leaf's off, as PyTorch does.
  Get(env).requires_grad_(info[0].As<Napi::Boolean>());
  return env.Undefined();
}

// PyTorch's `param.data = other`: the tensor object (and so every holder of it, an optimizer) now holds other's
// storage, dtype and device; autograd's leaf and requires_grad stay. Module.to() moves a JS module's parameters so.
Napi::Value TensorWrap::SetData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env).set_data(From(info[0], "other"));
  return env.Undefined();
}

Napi::Value TensorWrap::IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Meta(info.Env()).is_leaf());
}

Napi::Value TensorWrap::GradFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& node = Get(env).grad_fn();
  if (!node) return env.Null();
  return Napi::String::New(env, node->name());
}

Napi::Value TensorWrap::Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return New(env, Get(env).grad(), /*owned=*/false);
}

// to(device | null, dtype | null)
Napi::Value TensorWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env);
  auto device = info[0].IsString() ? ParseDevice(info[0].As<Napi::String>()) : t.device();
  auto dtype = info[1].IsString() ? ParseDtype(info[1].As<Napi::String>()) : t.scalar_type();
  return New(env, t.to(device, dtype));
}

Napi::Value TensorWrap::Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Scalar(env, Get(env).item());
}

// A copy of the values, row-major, in the typed array that matches the dtype.
Napi::Value TensorWrap::Data(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = Get(env).detach().to(torch::kCPU);
  // A gradient may be an efficient zero tensor (sgn's, for one): it has no memory to copy from.
  if (t._is_zerotensor()) t = at::zeros(t.sizes(), at::TensorOptions().dtype(t.scalar_type()));
  const auto [kind, carried] = TypedArrayOf(t.scalar_type());
  if (t.scalar_type() != carried) t = t.to(carried);
  t = t.contiguous();
  const size_t bytes = t.numel() * t.element_size();
  auto buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
  napi_value array;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, kind, t.numel(), buffer, 0, &array), Napi::Value());
  return Napi::Value(env, array);
}

Napi::Value TensorWrap::Reshape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return New(env, Get(env).reshape(ToShape(info[0])));
}

Napi::Value TensorWrap::View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return New(env, Get(env).view(ToShape(info[0])));
}

// index(indices), as the C++ frontend's t.index({...}).
Napi::Value TensorWrap::Index(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env);
  return New(env, t.index(ToIndices(info[0])));
}

// indexPut(indices, value): t.index_put_({...}, value) in place; value is a number or a Tensor.
Napi::Value TensorWrap::IndexPut(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = Get(env);  // a handle of the same tensor: index_put_ is not const in libtorch 1.13
  const auto indices = ToIndices(info[0]);
  if (info[1].IsNumber()) {
    t.index_put_(indices, Operand(info[1], t));
  } else {
    t.index_put_(indices, From(info[1], "values"));
  }
  return env.Undefined();
}

// backward(gradient | null)
Napi::Value TensorWrap::Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env);
  at::Tensor gradient;
  if (info.Length() > 0 && info[0].IsObject()) gradient = From(info[0], "gradient");
  t.backward(gradient);
  return env.Undefined();
}

// A number that two handles of the same tensor share (its TensorImpl's address): how lib/ deduplicates parameters.
Napi::Value TensorWrap::Identity(const Napi::CallbackInfo& info) {
  const auto* impl = Meta(info.Env()).unsafeGetTensorImpl();
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(impl)));
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  if (!disposed_) CheckNotHeld(info.Env(), tensor_);
  disposed_ = true;
  Release();
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed_);
}

// ---- module-level functions --------------------------------------------------------------------------------

namespace {

// fromData(typedArray, shape, dtype | null, device | null)
Napi::Value FromData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = FromTypedArray(info[0].As<Napi::TypedArray>(), ToShape(info[1]));
  auto options = Options(info[2], info[3]);
  if (options.has_dtype() || options.has_device()) {
    t = t.to(options.device_opt().value_or(t.device()),
             options.has_dtype() ? c10::typeMetaToScalarType(options.dtype()) : t.scalar_type());
  }
  return TensorWrap::New(env, t);
}

// copyInto(tensor, byteOffset, bytes): writes bytes into a contiguous CPU tensor's memory, so large files can be
// decoded straight into a tensor chunk by chunk instead of through a second, whole-file buffer.
Napi::Value CopyInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = TensorWrap::From(info[0], "tensor");
  const auto offset = info[1].As<Napi::Number>().Int64Value();
  const auto bytes = info[2].As<Napi::TypedArray>();
  const auto length = static_cast<int64_t>(bytes.ByteLength());
  const auto capacity = static_cast<int64_t>(t.numel() * t.element_size());
  if (!t.device().is_cpu() || !t.is_contiguous() || offset < 0 || offset + length > capacity) {
    throw Napi::RangeError::New(env, "copyInto: the bytes do not fit the tensor");
  }
  std::memcpy(static_cast<char*>(t.data_ptr()) + offset,
              static_cast<const char*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset(), length);
  return env.Undefined();
}

// full(shape, value, dtype, device)
Napi::Value Full(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::full(ToShape(info[0]), ToScalar(info[1]), Options(info[2], info[3])));
}

// empty(shape, dtype, device): uninitialised memory, for callers that write every element (the IDX decoder, which
// would otherwise zero-fill a 47 MB tensor on the main thread first).
Napi::Value Empty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::empty(ToShape(info[0]), Options(info[1], info[2])));
}

// random(kind, shape, dtype, device): kind is rand or randn.
Napi::Value Random(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].As<Napi::String>();
  const auto shape = ToShape(info[1]);
  const auto options = Options(info[2], info[3]);
  return TensorWrap::New(env, kind == "randn" ? torch::randn(shape, options) : torch::rand(shape, options));
}

// randint(low, high, shape, dtype, device)
Napi::Value Randint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::randint(info[0].As<Napi::Number>().Int64Value(),
                                             info[1].As<Napi::Number>().Int64Value(), ToShape(info[2]),
                                             Options(info[3], info[4])));
}

// randperm(n, device)
Napi::Value Randperm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::randperm(info[0].As<Napi::Number>().Int64Value(),
                                              Options(Napi::String::New(env, "int64"), info[1])));
}

// arange(start, end, step, dtype, device)
Napi::Value Arange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return TensorWrap::New(env, torch::arange(ToScalar(info[0]), ToScalar(info[1]), ToScalar(info[2]),
                                            Options(info[3], info[4])));
}

// join(op, tensors, dim): op is cat or stack.
Napi::Value Join(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string op = info[0].As<Napi::String>();
  const auto tensors = TensorWrap::List(info[1], "tensors");
  const auto dim = info[2].As<Napi::Number>().Int64Value();
  if (op == "cat") return TensorWrap::New(env, torch::cat(tensors, dim));
  if (op == "stack") return TensorWrap::New(env, torch::stack(tensors, dim));
  throw std::invalid_argument("unknown operator " + op);
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  torch::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return env.Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SetThreads(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Threads());
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), torch::cuda::is_available());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count()));
}

Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  return env.Undefined();
}

// memoryAllocated(index): bytes held by tensors on cuda:index (libtorch's caching allocator); 0 without CUDA or
// without a device.
Napi::Value CudaMemoryAllocated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#ifdef LT_WITH_CUDA
  const auto index = static_cast<c10::DeviceIndex>(info[0].As<Napi::Number>().Int32Value());
  // A CUDA build on a machine without a device answers as a CPU build does (libtorch would throw "Invalid
  // device argument" from its allocator).
  if (!torch::cuda::is_available()) return Napi::Number::New(env, 0);
  if (index >= static_cast<c10::DeviceIndex>(torch::cuda::device_count())) {
    throw Napi::RangeError::New(env, "Invalid device cuda:" + std::to_string(index) + ": this machine has " +
                                         std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  return Napi::Number::New(env, static_cast<double>(stats.allocated_bytes[0].current));
#else
  return Napi::Number::New(env, 0);
#endif
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  at::GradMode::set_enabled(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

}  // namespace

void InitTensorFunctions(Napi::Env env, Napi::Object exports) {
  const auto names = DtypeNames();
  auto dtypes = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) dtypes.Set(i, Napi::String::New(env, names[i]));
  exports.Set("dtypes", dtypes);
  exports.Set("fromData", Function<&FromData>(env, "fromData"));
  exports.Set("full", Function<&Full>(env, "full"));
  exports.Set("empty", Function<&Empty>(env, "empty"));
  exports.Set("copyInto", Function<&CopyInto>(env, "copyInto"));
  exports.Set("random", Function<&Random>(env, "random"));
  exports.Set("randint", Function<&Randint>(env, "randint"));
  exports.Set("randperm", Function<&Randperm>(env, "randperm"));
  exports.Set("arange", Function<&Arange>(env, "arange"));
  exports.Set("join", Function<&Join>(env, "join"));
  exports.Set("manualSeed", Function<&ManualSeed>(env, "manualSeed"));
  exports.Set("setNumThreads", Function<&SetNumThreads>(env, "setNumThreads"));
  exports.Set("getNumThreads", Function<&GetNumThreads>(env, "getNumThreads"));
  exports.Set("cudaIsAvailable", Function<&CudaIsAvailable>(env, "cudaIsAvailable"));
  exports.Set("cudaDeviceCount", Function<&CudaDeviceCount>(env, "cudaDeviceCount"));
  exports.Set("cudaSynchronize", Function<&CudaSynchronize>(env, "cudaSynchronize"));
  exports.Set("cudaMemoryAllocated", Function<&CudaMemoryAllocated>(env, "cudaMemoryAllocated"));
  exports.Set("setGradEnabled", Function<&SetGradEnabled>(env, "setGradEnabled"));
  exports.Set("isGradEnabled", Function<&IsGradEnabled>(env, "isGradEnabled"));
}

}  // namespace lt
