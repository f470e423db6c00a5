// The one conversion between JS values and c10::IValue, driven by a schema type (c10::FunctionSchema's argument
// and return types). Every operator call (ops.cc) and every TorchScript method call goes through it, so a type is
// accepted, refused and converted back the same way everywhere.
#pragma once

#include <napi.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>

#include <string>

namespace lt {

// A JS value as an IValue of the schema type `type`:
//   Tensor              a Tensor handle (refused while a training holds it, see hold.h)
//   int, SymInt         an integral number or a BigInt;            float: a number;   bool: a boolean
//   str                 a string;                                   Scalar: a number (integral -> int) or a boolean
//   ScalarType          a dtype name ('float32', ...);              Layout: 'strided' | 'sparse_coo' | ...
//   Device              'cpu', 'cuda', 'cuda:1';                    MemoryFormat: 'contiguous_format' | ...
//   T?                  null or undefined -> None, else as T;       None: null or undefined
//   T[] (List)          an array of T (int[]: also one number, as a one-element list)
//   Tuple               an array of the element types;              Dict(str|int, V): a plain object or a Map
//   Generator           null or undefined only (the default generator)
// Throws a Napi::TypeError naming `what` ("add(): argument 'other'") on a mismatch.
c10::IValue ToIValue(const Napi::Value& value, const c10::TypePtr& type, const std::string& what);

// An IValue as a JS value: Tensor -> a Tensor handle (null if undefined), int/float -> number, bool, str, None ->
// null, lists and tuples -> arrays, a Dict -> a plain object when its keys are strings, else a Map; Device ->
// its name. Throws a TypeError for what JS cannot hold (an object of a TorchScript class, a Future).
Napi::Value FromIValue(Napi::Env env, const c10::IValue& value);
// The same, reading enumerations stored as ints (ScalarType, Layout, MemoryFormat) by the schema type `type`.
Napi::Value FromIValue(Napi::Env env, const c10::IValue& value, const c10::TypePtr& type);

// The names JS uses for the enumerations that schemas carry as ints.
c10::Layout ParseLayout(const std::string& name);
std::string LayoutName(c10::Layout layout);
c10::MemoryFormat ParseMemoryFormat(const std::string& name);
std::string MemoryFormatName(c10::MemoryFormat format);

}  // namespace lt
