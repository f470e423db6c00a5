// The one road to every ATen operator: the operators come from libtorch's own registry (c10::Dispatcher), each
// call is resolved among the overloads of its name by the JS arguments given, as PyTorch's Python argument parser
// does, converted by the schema (ivalue.h) and run as one boxed dispatcher call, the way TorchScript's interpreter
// runs them. No operator is written here by name.
#pragma once

#include <napi.h>

namespace lt {

// opSchemas(): every aten operator's schema, as text; opLookup(name): the id of an operator name (all its
// overloads) or -1; callOp(id, kwargs | null, ...args): the call.
void InitOps(Napi::Env env, Napi::Object exports);

}  // namespace lt
