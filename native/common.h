// Shared plumbing: per-environment constructors and the conversions between JS values and libtorch enums.
// lib/ validates every argument before it reaches native code, so these parsers only guard against misuse.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "threads.h"

namespace lt {

// Constructors of the native classes, one set per Node environment (worker threads each get their own). Tensors
// have none: their handles are Externals (tensor.h).
struct AddonData {
  Napi::FunctionReference module;
  Napi::FunctionReference sgd;
  Napi::FunctionReference trainer;
  Napi::FunctionReference hold;
  Napi::FunctionReference process_group;
  Napi::FunctionReference script_module;
};

inline AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// The dtype names lib/ uses, each mapped to its libtorch type (lib/tensor.ts holds the same list; a test checks).
at::ScalarType ParseDtype(const std::string& name);
std::vector<std::string> DtypeNames();
// The dtype a typed array's values have (Uint8Array: uint8), and the typed array that carries a dtype's values with
// the dtype they are converted to on the way (float16: Float32Array as float32). From the one table, kDtypes.
at::ScalarType TypedArrayDtype(napi_typedarray_type array);
std::pair<napi_typedarray_type, at::ScalarType> TypedArrayOf(at::ScalarType type);
std::string DtypeName(at::ScalarType type);
c10::Device ParseDevice(const std::string& name);
std::string DeviceName(const c10::Device& device);

std::vector<int64_t> ToShape(const Napi::Value& value);
Napi::Array FromShape(Napi::Env env, at::IntArrayRef shape);

}  // namespace lt
