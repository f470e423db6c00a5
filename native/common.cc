#include "common.h"

#include <stdexcept>


namespace lt {

namespace {
struct DtypeEntry {
  const char* name;
  at::ScalarType type;
  // The typed array that carries its values to and from JS. Where two dtypes share one (float16 and bfloat16 are
  // read as Float32Array, bool as Uint8Array), the first row with it is the array's own dtype.
  napi_typedarray_type array;
};
// The one table of dtypes on the native side; lib/tensor.ts's DTYPE_TABLE has the same rows (a test checks).
constexpr DtypeEntry kDtypes[] = {
    {"float32", at::kFloat, napi_float32_array},      {"float64", at::kDouble, napi_float64_array},
    {"float16", at::kHalf, napi_float32_array},       {"bfloat16", at::kBFloat16, napi_float32_array},
    {"int64", at::kLong, napi_bigint64_array},        {"int32", at::kInt, napi_int32_array},
    {"int16", at::kShort, napi_int16_array},          {"int8", at::kChar, napi_int8_array},
    {"uint8", at::kByte, napi_uint8_array},           {"bool", at::kBool, napi_uint8_array},
};
}  // namespace

at::ScalarType ParseDtype(const std::string& name) {
  for (const auto& entry : kDtypes) {
    if (name == entry.name) return entry.type;
  }
  throw std::invalid_argument("unsupported dtype '" + name + "'");
}

at::ScalarType TypedArrayDtype(napi_typedarray_type array) {
  for (const auto& entry : kDtypes) {
    if (entry.array == array) return entry.type;
  }
  throw std::invalid_argument("unsupported typed array type");
}

std::pair<napi_typedarray_type, at::ScalarType> TypedArrayOf(at::ScalarType type) {
  for (const auto& entry : kDtypes) {
    if (entry.type == type) return {entry.array, TypedArrayDtype(entry.array)};
  }
  throw std::invalid_argument("data(): unsupported dtype " + std::string(c10::toString(type)));
}

std::vector<std::string> DtypeNames() {
  std::vector<std::string> names;
  for (const auto& entry : kDtypes) names.emplace_back(entry.name);
  return names;
}

std::string DtypeName(at::ScalarType type) {
  for (const auto& entry : kDtypes) {
    if (type == entry.type) return entry.name;
  }
  return c10::toString(type);
}

c10::Device ParseDevice(const std::string& name) {
  c10::Device device(name);
  if (device.is_cuda()) {
    // libtorch's own failure here is a dispatcher table several screens long; say what is wrong instead.
    if (!at::hasCUDA()) {
      throw std::runtime_error("Torch not compiled with CUDA enabled: this lenet-torch was built against libtorch " +
                               std::string(TORCH_VERSION) + " without CUDA (see the README's CUDA section)");
    }
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (count == 0) throw std::runtime_error("CUDA is not available: no CUDA device is visible to this process");
    if (device.has_index() && device.index() >= count) {
      throw std::runtime_error("Invalid device " + device.str() + ": this machine has " + std::to_string(count) +
                               " CUDA device(s)");
    }
  }
  return device;
}

std::string DeviceName(const c10::Device& device) { return device.str(); }

std::vector<int64_t> ToShape(const Napi::Value& value) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), "shape must be an array of integers");
  const auto array = value.As<Napi::Array>();
  std::vector<int64_t> shape(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    shape[i] = array.Get(i).As<Napi::Number>().Int64Value();
  }
  return shape;
}

Napi::Array FromShape(Napi::Env env, at::IntArrayRef shape) {
  auto array = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) array.Set(i, Napi::Number::New(env, static_cast<double>(shape[i])));
  return array;
}

}  // namespace lt
