// Shared plumbing: per-environment constructors and the conversions between JS values and libtorch enums.
// lib/ validates every argument before it reaches native code, so these parsers only guard against misuse.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "threads.h"

namespace lt {

// Constructors of the native classes, one set per Node environment (worker threads each get their own).
struct AddonData {
  Napi::FunctionReference tensor;
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
std::string DtypeName(at::ScalarType type);
c10::Device ParseDevice(const std::string& name);
std::string DeviceName(const c10::Device& device);

std::vector<int64_t> ToShape(const Napi::Value& value);
Napi::Array FromShape(Napi::Env env, at::IntArrayRef shape);

}  // namespace lt
