#include "ops.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "errors.h"
#include "ivalue.h"
#include "tensor.h"

namespace lt {

namespace {

struct Param {
  std::string name;
  c10::TypePtr type;  // the real type: ScalarType, not the int it travels as
  bool required;      // no default
  bool out;           // a keyword-only Tensor(a!) written by the op (out=)
  bool int_list;      // int[] / SymInt[] (takes one number, or Python's varargs)
  // int[2] kernel_size: the length a list must have (one number, or a list of one, stands for size copies), or -1.
  // int[1] dim takes lists of any length, as in Python.
  int64_t size;
  std::string label;  // "argument 'other'", for errors
  // Its default is an empty list (max_pool2d's `int[2] stride=[]`: the kernel's size), which it also takes as given.
  bool empty_default = false;
};

struct Overload {
  c10::OperatorHandle handle;
  const c10::FunctionSchema* schema;
  std::vector<Param> params;
  size_t positional = 0;  // the params before '*'
  size_t outs = 0;
  bool factory = false;  // takes TensorOptions (dtype, layout, device, pin_memory): also requires_grad=
  std::vector<int> return_alias;  // per return: the param it writes and returns (in-place self, out=), or -1
  bool named_returns = false;
  bool method = false;       // its first parameter is Tensor self: a Tensor method
  bool stores_self = false;  // writes numbers into self's elements (see CheckScalarsFitSelf)
};

struct Group {
  std::string name;  // without aten::
  std::vector<Overload> overloads;
};

// The operator table, built once per process from the dispatcher's registry (schemas do not change at run time).
struct Table {
  std::vector<Group> groups;
  std::unordered_map<std::string, size_t> index;
};

bool IsIntList(const c10::TypePtr& type) {
  const auto* list = type->castRaw<c10::ListType>();
  if (!list) return false;
  const auto kind = list->getElementType()->kind();
  return kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType;
}

Overload MakeOverload(const c10::OperatorHandle& handle) {
  Overload o{handle, &handle.schema()};
  const auto& args = o.schema->arguments();
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    const auto& type = a.real_type();
    o.params.push_back({a.name(), type, !a.default_value().has_value(), a.is_out(),
                        IsIntList(type) || (type->kind() == c10::TypeKind::OptionalType &&
                                            IsIntList(type->castRaw<c10::OptionalType>()->getElementType())),
                        a.N() && *a.N() > 1 ? static_cast<int64_t>(*a.N()) : -1, "argument '" + a.name() + "'"});
    const auto& fallback = a.default_value();
    o.params.back().empty_default = fallback.has_value() && fallback->isList() && fallback->toListRef().empty();
    if (!a.kwarg_only()) o.positional = i + 1;
    if (a.is_out()) ++o.outs;
    if (a.name() == "pin_memory" && a.kwarg_only()) o.factory = true;
  }
  bool named = !o.schema->returns().empty();
  for (const auto& r : o.schema->returns()) {
    int alias = -1;
    if (r.alias_info() && r.alias_info()->isWrite()) {
      for (size_t i = 0; i < args.size(); ++i) {
        if (args[i].alias_info() && args[i].alias_info()->isWrite() &&
            args[i].alias_info()->beforeSets() == r.alias_info()->beforeSets()) {
          alias = static_cast<int>(i);
        }
      }
    }
    o.return_alias.push_back(alias);
    named = named && !r.name().empty();
  }
  o.named_returns = named && o.schema->returns().size() > 1;
  o.method = !o.params.empty() && o.params[0].name == "self" && o.params[0].type->kind() == c10::TypeKind::TensorType;
  bool numbers = false;
  for (size_t i = 1; i < args.size(); ++i) numbers = numbers || args[i].type()->kind() == c10::TypeKind::NumberType;
  o.stores_self = numbers && ((!o.return_alias.empty() && o.return_alias[0] == 0) || o.schema->name() == "aten::masked_fill");
  return o;
}

const std::regex& DimnameOverload() {
  static const std::regex re("dimname|(^|_)names($|_)", std::regex::icase);
  return re;
}

const Table& GetTable() {
  static Table* table = [] {
    auto* t = new Table();
    auto& dispatcher = c10::Dispatcher::singleton();
    for (const auto& name : dispatcher.getAllOpNames()) {
      if (name.name.rfind("aten::", 0) != 0) continue;
      const auto handle = dispatcher.findSchema(name);
      if (!handle) continue;  // a name registered without a schema
      // Named tensors' overloads (their Dimname arguments are str in the schema): lenet-torch has no dimension
      // names, and a str where an int was meant would reach them as libtorch's "all symbols must have a namespace".
      if (std::regex_search(name.overload_name, DimnameOverload())) continue;
      const std::string base = name.name.substr(6);
      auto it = t->index.find(base);
      if (it == t->index.end()) {
        it = t->index.emplace(base, t->groups.size()).first;
        t->groups.push_back({base, {}});
      }
      t->groups[it->second].overloads.push_back(MakeOverload(*handle));
    }
    // The first overload that takes the arguments wins, so the order decides between overloads that take the same
    // JS values (defaults only, a number for int or Scalar): without out= first, then the fewest parameters, then
    // the default overload (''), then by name. The registry's own order is a hash map's.
    for (auto& g : t->groups) {
      std::sort(g.overloads.begin(), g.overloads.end(), [](const Overload& a, const Overload& b) {
        const auto& an = a.schema->overload_name();
        const auto& bn = b.schema->overload_name();
        return std::make_tuple(a.outs > 0, a.params.size(), !an.empty(), an) <
               std::make_tuple(b.outs > 0, b.params.size(), !bn.empty(), bn);
      });
    }
    return t;
  }();
  return *table;
}

// The names under which lib/ calls a group: torch.add, Tensor.add, torch.nn.functional.relu, ...
struct Binding {
  const Group* group;
  std::string display;
};
// Every (operator, name) pair any environment looked up, once each (~1,300 when lib/ loads): ids are indices, stable
// for the process, the same in every worker. Stored in chunks that never move and are only ever appended to, so
// that a call reads its binding without a lock (an id the JS side holds was published before it was returned).
constexpr uint32_t kChunkBits = 10;
constexpr uint32_t kChunks = 64;
constexpr uint32_t kMaxBindings = kChunks << kChunkBits;
struct Bindings {
  std::mutex mutex;  // for appending
  std::unordered_map<std::string, uint32_t> ids;  // group index and name -> id
  std::unique_ptr<Binding[]> chunks[kChunks];  // allocated as ids reach them
  std::atomic<uint32_t> count{0};
  Binding& at(uint32_t id) const { return chunks[id >> kChunkBits][id & ((1u << kChunkBits) - 1)]; }
};
Bindings& GetBindings() {
  static Bindings* bindings = new Bindings();
  return *bindings;
}

// One JS argument as every overload tried reads it: what Node-API says of it is asked once per call (its type, the
// tensor's state, whether it is an array, a number's value), not once per parameter of each overload tried (a.add(b)
// tries add.Scalar before add.Tensor).
struct Arg {
  Napi::Value value;
  napi_valuetype type = napi_undefined;
  bool tensor = false;  // a tensor's handle
  TensorHandle* handle = nullptr;  // its state, when it is one
  bool array = false;
  bool integer = false;  // a BigInt, or a number without a fraction in int64's range
  bool nullish() const { return type == napi_null || type == napi_undefined; }
};

Arg Classify(const Napi::Value& value) {
  Arg a;
  a.value = value;
  if (napi_typeof(value.Env(), value, &a.type) != napi_ok) return a;
  switch (a.type) {
    case napi_external:
      a.handle = TensorWrap::HandleOfValue(value);
      a.tensor = a.handle != nullptr;
      break;
    case napi_object: {
      bool array = false;
      a.array = napi_is_array(value.Env(), value, &array) == napi_ok && array;
      break;
    }
    case napi_bigint:
      // A handle made inside torch.tidy(), or an integer.
      a.handle = TensorWrap::HandleOfValue(value);
      a.tensor = a.handle != nullptr;
      a.integer = !a.tensor;
      break;
    case napi_number: {
      double d = 0;
      napi_get_value_double(value.Env(), value, &d);
      a.integer = std::trunc(d) == d && std::abs(d) < 9223372036854775808.0;
      break;
    }
    default: break;
  }
  return a;
}

bool IsIn(const Arg& a, bool (*known)(const std::string&)) {
  return a.type == napi_string && known(a.value.As<Napi::String>().Utf8Value());
}

bool KnownDtype(const std::string& s) {
  try {
    ParseDtype(s);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}
bool KnownLayout(const std::string& s) {
  try {
    ParseLayout(s);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}
bool KnownMemoryFormat(const std::string& s) {
  try {
    ParseMemoryFormat(s);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}
bool KnownDevice(const std::string& s) {
  try {
    c10::Device device(s);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Whether `a` can be passed as `type`, without converting it: how an overload is chosen.
bool Fits(const Arg& a, const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType: return a.tensor;
    case c10::TypeKind::OptionalType: return a.nullish() || Fits(a, type->castRaw<c10::OptionalType>()->getElementType());
    case c10::TypeKind::NoneType:
    case c10::TypeKind::GeneratorType: return a.nullish();
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: return a.integer;
    case c10::TypeKind::FloatType: return a.type == napi_number;
    case c10::TypeKind::BoolType: return a.type == napi_boolean;
    case c10::TypeKind::NumberType: return a.type == napi_number || a.type == napi_boolean || a.integer;
    case c10::TypeKind::StringType: return a.type == napi_string;
    case c10::TypeKind::ScalarTypeType: return IsIn(a, KnownDtype);
    case c10::TypeKind::LayoutType: return IsIn(a, KnownLayout);
    case c10::TypeKind::MemoryFormatType: return IsIn(a, KnownMemoryFormat);
    case c10::TypeKind::DeviceObjType: return IsIn(a, KnownDevice);
    case c10::TypeKind::ListType: {
      const auto& element = type->castRaw<c10::ListType>()->getElementType();
      if (IsIntList(type) && a.integer) return true;
      if (!a.array) return false;
      const auto array = a.value.As<Napi::Array>();
      for (uint32_t i = 0, n = array.Length(); i < n; ++i) {
        if (!Fits(Classify(array.Get(i)), element)) return false;
      }
      return true;
    }
    case c10::TypeKind::TupleType: return a.array;
    case c10::TypeKind::DictType: return a.type == napi_object && !a.array;
    case c10::TypeKind::AnyType: return true;
    default: return false;
  }
}

// The keyword arguments of one call, read once: {dim: undefined} is left out, as an absent key; `input` is `self`
// for torch.X (Python names the first argument of torch.X `input`).
using Kwargs = std::vector<std::pair<std::string, Arg>>;

// Appends them to `kwargs`.
void ReadKwargs(const Napi::Object& object, bool method, Kwargs* kwargs) {
  const auto keys = object.GetPropertyNames();
  for (uint32_t k = 0, nk = keys.Length(); k < nk; ++k) {
    std::string key = keys.Get(k).As<Napi::String>().Utf8Value();
    const Napi::Value value = object.Get(key);
    if (value.IsUndefined()) continue;
    if (key == "input" && !method) key = "self";
    kwargs->emplace_back(std::move(key), Classify(value));
  }
}

// The JS values of one call, bound to one overload's parameters.
struct Bound {
  std::vector<const Arg*> values;  // per param; nullptr when not given
  std::vector<Napi::Value> varargs;  // Python's view(2, 3): the numbers of the one int[] parameter
  std::vector<Arg> outs;  // out=[a, b]'s elements, where values[] points for the out parameters
  int varargs_param = -1;
  bool requires_grad = false;
  // Why the overload does not take the call: a message, and how far the binding got (to pick the nearest overload).
  std::string failure;
  int progress = 0;
};

// Binds `args` (self first for a method) and `kwargs` to `o`; false with b->failure set when they do not fit.
bool Bind(const Overload& o, bool method, const std::vector<Arg>& args, const Kwargs& kwargs, Bound* b) {
  b->values.assign(o.params.size(), nullptr);
  b->failure.clear();
  b->progress = 0;
  b->varargs.clear();
  b->varargs_param = -1;
  b->requires_grad = false;
  if (method && !o.method) {
    b->failure = "it is not a Tensor method";
    return false;
  }
  size_t n = args.size();
  // Python's varargs int lists: t.view(2, 3), torch.zeros(2, 3) when the only positional parameter (after self) is
  // an int list.
  const size_t first = method ? 1 : 0;
  if (o.positional == first + 1 && o.params[first].int_list && n > first + 1) {
    for (size_t i = first; i < n; ++i) {
      if (!args[i].integer) {
        b->failure = "argument '" + o.params[first].name + "' takes integers, as numbers or one array of them";
        b->progress = static_cast<int>(first);
        return false;
      }
      b->varargs.push_back(args[i].value);
    }
    b->varargs_param = static_cast<int>(first);
    n = first;
  }
  if (n > o.positional) {
    b->failure = "takes " + std::to_string(o.positional - first) + " positional argument(s) but " +
                 std::to_string(n - first) + " were given";
    return false;
  }
  for (size_t i = 0; i < n; ++i) b->values[i] = &args[i];
  bool out_given = false;
  for (const auto& [key, value] : kwargs) {
    if (key == "out") {
      out_given = true;
      if (o.outs == 0) {
        b->failure = "it has no out= form";
        return false;
      }
      if (o.outs == 1) {
        for (size_t i = 0; i < o.params.size(); ++i) {
          if (o.params[i].out) b->values[i] = &value;
        }
      } else {
        if (!value.array || value.value.As<Napi::Array>().Length() != o.outs) {
          b->failure = "out= takes an array of " + std::to_string(o.outs) + " Tensors";
          return false;
        }
        const auto array = value.value.As<Napi::Array>();
        b->outs.clear();
        b->outs.reserve(o.outs);  // no reallocation below: values[] points into it
        for (size_t i = 0; i < o.params.size(); ++i) {
          if (!o.params[i].out) continue;
          b->outs.push_back(Classify(array.Get(static_cast<uint32_t>(b->outs.size()))));
          b->values[i] = &b->outs.back();
        }
      }
      continue;
    }
    if (key == "requires_grad" && o.factory) {
      if (value.type != napi_boolean) {
        b->failure = "Expected requires_grad to be a boolean";
        return false;
      }
      b->requires_grad = value.value.As<Napi::Boolean>().Value();
      continue;
    }
    size_t i = 0;
    while (i < o.params.size() && (o.params[i].name != key || o.params[i].out)) ++i;
    if (i == o.params.size()) {
      b->failure = "unexpected keyword argument '" + key + "'";
      return false;
    }
    if (b->values[i] != nullptr || static_cast<int>(i) == b->varargs_param) {
      b->failure = "got multiple values for argument '" + key + "'";
      return false;
    }
    b->values[i] = &value;
  }
  if (o.outs > 0 && !out_given) {
    b->failure = "its out= form needs out=";
    return false;
  }
  for (size_t i = 0; i < o.params.size(); ++i) {
    b->progress = static_cast<int>(i) + 1;
    const auto& p = o.params[i];
    if (static_cast<int>(i) == b->varargs_param) continue;
    if (b->values[i] == nullptr) {
      if (p.required) {
        b->failure = "missing argument '" + (p.name == "self" && !method ? std::string("input") : p.name) + "'";
        return false;
      }
      continue;
    }
    const Arg& a = *b->values[i];
    // int[2] takes 2 numbers or one (Python's rule): kernels index such lists without checking their length.
    const int64_t length = p.size > 0 && a.array ? static_cast<int64_t>(a.value.As<Napi::Array>().Length()) : -1;
    if (length >= 0 && length != p.size && length != 1 && !(p.empty_default && length == 0)) {
      b->failure = "argument '" + p.name + "' takes " + std::to_string(p.size) + " integers (or one for all), not " +
                   std::to_string(length);
      b->progress += 1000;
      return false;
    }
    if (!Fits(a, p.type)) {
      b->failure.clear();  // the precise message comes from ToIValue
      b->progress += 1000;  // a type mismatch is nearer than a missing or unknown argument
      b->varargs_param = static_cast<int>(i) - 1000000;  // marks the param that failed
      return false;
    }
  }
  return true;
}

// A type as schemas spell it: Scalar (not number), Tensor? (not Optional[Tensor]), int[].
std::string TypeName(const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::NumberType: return "Scalar";
    case c10::TypeKind::OptionalType: return TypeName(type->castRaw<c10::OptionalType>()->getElementType()) + "?";
    case c10::TypeKind::ListType: return TypeName(type->castRaw<c10::ListType>()->getElementType()) + "[]";
    default: return type->annotation_str();
  }
}

std::string Signature(const Overload& o) {
  std::string s = o.schema->name().substr(6);
  if (!o.schema->overload_name().empty()) s += "." + o.schema->overload_name();
  std::ostringstream text;
  text << *o.schema;
  const auto full = text.str();
  return s + full.substr(full.find('('));
}

[[noreturn]] void NoOverload(Napi::Env env, const Binding& binding, bool method, const std::vector<Arg>& args,
                             const Kwargs& kwargs) {
  const Group& g = *binding.group;
  // The reason of the overload that got furthest; for a wrong type, the types every such overload takes there.
  std::string reason;
  int best = -1;
  std::string param;
  Napi::Value value;
  std::vector<std::string> expected;
  Bound b;
  for (const auto& o : g.overloads) {
    if (Bind(o, method, args, kwargs, &b) || b.progress < best) continue;
    if (b.progress > best) expected.clear();
    best = b.progress;
    if (!b.failure.empty()) {
      reason = b.failure;
      continue;
    }
    const auto& p = o.params[b.varargs_param + 1000000];
    param = p.name == "self" && !method ? "input" : p.name;
    value = b.values[b.varargs_param + 1000000]->value;
    const std::string type = TypeName(p.type);
    if (std::find(expected.begin(), expected.end(), type) == expected.end()) expected.push_back(type);
    try {
      ToIValue(value, p.type, "argument '" + param + "'");
      reason = "argument '" + param + "' does not fit " + type;
    } catch (const Napi::Error& e) {
      reason = e.Message();
    }
  }
  if (expected.size() > 1) {
    std::string types;
    for (size_t i = 0; i < expected.size(); ++i) types += (i == 0 ? "" : i + 1 == expected.size() ? " or " : ", ") + expected[i];
    reason = "Expected argument '" + param + "' to be " + types + " but received " + Describe(value);
  }
  std::string list;
  for (const auto& o : g.overloads) list += "\n  " + Signature(o);
  throw Napi::TypeError::New(env, binding.display + "(): " + reason + ". Its overloads:" + list);
}

// opLookup(atenName, displayName): an id for callOp, or -1 when this libtorch has no such operator.
Napi::Value OpLookup(const Napi::CallbackInfo& info) {
  const auto& table = GetTable();
  const std::string name = info[0].As<Napi::String>();
  const auto it = table.index.find(name);
  if (it == table.index.end()) return Napi::Number::New(info.Env(), -1);
  const std::string display = info[1].As<Napi::String>();
  auto& bindings = GetBindings();
  std::lock_guard<std::mutex> lock(bindings.mutex);
  const auto [known, added] = bindings.ids.emplace(std::to_string(it->second) + ' ' + display, bindings.count.load());
  if (added) {
    const uint32_t id = known->second;
    if (id == kMaxBindings) {
      bindings.ids.erase(known);
      throw Napi::Error::New(info.Env(), "opLookup(): more than " + std::to_string(kMaxBindings) + " operator names");
    }
    auto& chunk = bindings.chunks[id >> kChunkBits];
    if (!chunk) chunk.reset(new Binding[1u << kChunkBits]);
    bindings.at(id) = {&table.groups[it->second], display};
    bindings.count.store(id + 1, std::memory_order_release);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(known->second));
}

// A number stored into an integer self must be one its dtype holds, checked here as lib/ checks its own roads
// (tensor.ts checkElement, same words): c10's own check misses int64's exact boundary (a JS number is a double, and
// 2 ** 63 equals int64's largest value rounded to a double, so it would be stored as -2 ** 63), and says nothing of
// which argument it was.
// Only where the number becomes an element of self's dtype: an in-place op on self (fill_, add_, masked_fill_) and
// masked_fill; elsewhere it may promote the result (an int64 tensor * 1e30 is a float tensor).
void CheckScalarsFitSelf(Napi::Env env, const Overload& o, const torch::jit::Stack& stack) {
  if (!o.stores_self || stack.empty() || !stack[0].isTensor()) return;
  const auto& self = stack[0].toTensor();
  if (!self.defined() || !at::isIntegralType(self.scalar_type(), /*includeBool=*/false)) return;
  int64_t lo = 0;
  int64_t hi = 0;
  AT_DISPATCH_INTEGRAL_TYPES(self.scalar_type(), "range", [&] {
    lo = std::numeric_limits<scalar_t>::min();
    hi = std::numeric_limits<scalar_t>::max();
  });
  for (size_t i = 1; i < stack.size(); ++i) {
    if (o.schema->arguments()[i].type()->kind() != c10::TypeKind::NumberType) continue;
    const auto& v = stack[i];
    double d;
    bool fits;
    if (v.isDouble()) {
      d = v.toDouble();
      const double t = std::trunc(d);  // NaN and +-Infinity fit nothing
      fits = t >= static_cast<double>(lo) && t < static_cast<double>(hi) + 1.0;
    } else if (v.isInt()) {
      d = static_cast<double>(v.toInt());
      fits = v.toInt() >= lo && v.toInt() <= hi;
    } else {
      continue;
    }
    if (!fits) {
      const std::string dtype = DtypeName(self.scalar_type());
      throw Napi::RangeError::New(env, "Expected " + o.params[i].name + " to be a value " + dtype +
                                           " can hold (an integer in [" + std::to_string(lo) + ", " +
                                           std::to_string(hi) + "]) but received " +
                                           Napi::Number::New(env, d).ToString().Utf8Value() + " (number)");
    }
  }
}

// callOp(id, kwargs | null, self | undefined, ...args)
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& bindings = GetBindings();
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= bindings.count.load(std::memory_order_acquire)) throw Napi::RangeError::New(env, "callOp(): unknown operator id");
  const Binding* binding = &bindings.at(id);
  // self (info[2]) is the first argument of a method; 0 (or undefined) for torch.X.
  const Arg self = Classify(info[2]);
  const bool method = self.type != napi_number && self.type != napi_undefined;
  // The arguments and their binding live in per-thread buffers, reused from call to call (no allocation), except in
  // a call made while another is being bound (a getter on an options object or an array calling an op): that one
  // gets its own, so that the outer call's are left as they were.
  // One thread_local (one TLS lookup a call, not five).
  struct Buffers {
    int depth = 0;
    std::vector<Arg> args;
    Kwargs kwargs;
    Bound bound;
    torch::jit::Stack stack;
  };
  thread_local Buffers shared;
  std::vector<Arg> own_args;
  Kwargs own_kwargs;
  Bound own_bound;
  torch::jit::Stack own_stack;
  Buffers& buffers = shared;
  const bool outermost = buffers.depth == 0;
  std::vector<Arg>& args = outermost ? buffers.args : own_args;
  Kwargs& kwargs = outermost ? buffers.kwargs : own_kwargs;
  Bound& b = outermost ? buffers.bound : own_bound;
  torch::jit::Stack& stack = outermost ? buffers.stack : own_stack;
  struct Depth {
    int& depth;
    explicit Depth(int& d) : depth(d) { ++depth; }
    ~Depth() { --depth; }
  } nested(buffers.depth);
  args.clear();
  if (method) args.push_back(self);
  for (size_t i = 3; i < info.Length(); ++i) args.push_back(Classify(info[i]));
  kwargs.clear();
  napi_valuetype options = napi_undefined;  // 0, or the keyword arguments' object
  if (napi_typeof(env, info[1], &options) == napi_ok && options == napi_object) {
    ReadKwargs(info[1].As<Napi::Object>(), method, &kwargs);
  }

  const Overload* chosen = nullptr;
  for (const auto& o : binding->group->overloads) {
    if (Bind(o, method, args, kwargs, &b)) {
      chosen = &o;
      break;
    }
  }
  if (!chosen) NoOverload(env, *binding, method, args, kwargs);

  const auto& o = *chosen;
  // Emptied on the way out, whatever happens: the shared stack must not keep the call's tensors alive.
  struct Clear {
    torch::jit::Stack& stack;
    ~Clear() { stack.clear(); }
  } clear{stack};
  for (size_t i = 0; i < o.params.size(); ++i) {
    const auto& p = o.params[i];
    const Arg* a = b.values[i];
    if (static_cast<int>(i) == b.varargs_param) {
      c10::List<int64_t> list;
      for (const auto& v : b.varargs) list.push_back(ToIValue(v, c10::IntType::get(), p.name).toInt());
      stack.emplace_back(std::move(list));
    } else if (a == nullptr) {
      const auto& arg = o.schema->arguments()[i];
      stack.push_back(arg.default_value() ? *arg.default_value() : c10::IValue());
    } else if (p.size > 0 && (a->integer || (a->array && a->value.As<Napi::Array>().Length() == 1))) {
      // kernel_size=3 (or [3]) for int[2]: [3, 3], as Python expands it.
      const Napi::Value one = a->array ? a->value.As<Napi::Array>().Get(0u) : a->value;
      const auto n = ToIValue(one, c10::IntType::get(), "argument '" + p.name + "'").toInt();
      stack.emplace_back(c10::List<int64_t>(std::vector<int64_t>(p.size, n)));
    } else if (p.type->kind() == c10::TypeKind::TensorType) {
      // Bind found it a tensor's handle: only the hold is left to check.
      stack.emplace_back(TensorWrap::FromHandle(env, a->handle));
    } else {
      stack.push_back(ToIValue(a->value, p.type, p.label));
    }
  }
  CheckScalarsFitSelf(env, o, stack);
  o.handle.callBoxed(&stack);

  const auto& returns = o.schema->returns();
  if (b.requires_grad && !stack.empty() && stack[0].isTensor()) stack[0].toTensor().requires_grad_(true);
  auto result = [&](size_t r) -> Napi::Value {
    if (o.return_alias[r] >= 0 && b.values[o.return_alias[r]] != nullptr) return b.values[o.return_alias[r]]->value;
    return FromIValue(env, stack[r], returns[r].real_type());
  };
  if (returns.empty()) return env.Undefined();
  if (returns.size() == 1) return result(0);
  if (o.named_returns) {
    auto object = Napi::Object::New(env);
    for (size_t r = 0; r < returns.size(); ++r) object.Set(returns[r].name(), result(r));
    return object;
  }
  auto array = Napi::Array::New(env, returns.size());
  for (size_t r = 0; r < returns.size(); ++r) array.Set(static_cast<uint32_t>(r), result(r));
  return array;
}

// opSchemas(): every aten operator's schema as text, 'aten::add.Tensor(Tensor self, ...) -> Tensor'.
Napi::Value OpSchemas(const Napi::CallbackInfo& info) {
  const auto& table = GetTable();
  std::vector<std::string> schemas;
  for (const auto& g : table.groups) {
    for (const auto& o : g.overloads) {
      std::ostringstream text;
      text << *o.schema;
      schemas.push_back(text.str());
    }
  }
  std::sort(schemas.begin(), schemas.end());
  auto array = Napi::Array::New(info.Env(), schemas.size());
  for (size_t i = 0; i < schemas.size(); ++i) array.Set(static_cast<uint32_t>(i), schemas[i]);
  return array;
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("opSchemas", Function<&OpSchemas>(env, "opSchemas"));
  exports.Set("opLookup", Function<&OpLookup>(env, "opLookup"));
  exports.Set("callOp", Function<&CallOp>(env, "callOp"));
}

}  // namespace lt
