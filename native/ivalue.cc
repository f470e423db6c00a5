#include "ivalue.h"

#include <cmath>
#include <string>

#include "common.h"
#include "tensor.h"

namespace lt {

namespace {

struct LayoutEntry {
  const char* name;
  c10::Layout layout;
};
constexpr LayoutEntry kLayouts[] = {
    {"strided", c10::kStrided}, {"sparse_coo", c10::kSparse}, {"sparse_csr", c10::kSparseCsr},
    {"_mkldnn", c10::kMkldnn},
};
struct MemoryFormatEntry {
  const char* name;
  c10::MemoryFormat format;
};
constexpr MemoryFormatEntry kMemoryFormats[] = {
    {"contiguous_format", c10::MemoryFormat::Contiguous},
    {"preserve_format", c10::MemoryFormat::Preserve},
    {"channels_last", c10::MemoryFormat::ChannelsLast},
    {"channels_last_3d", c10::MemoryFormat::ChannelsLast3d},
};

// "Expected <what> to be <expected> but received <value>".
[[noreturn]] void Mismatch(const Napi::Value& value, const std::string& what, const std::string& expected) {
  throw Napi::TypeError::New(value.Env(), "Expected " + what + " to be " + expected + " but received " + Describe(value));
}

int64_t ToInt(const Napi::Value& value, const std::string& what) {
  if (value.IsNumber()) {
    const double d = value.As<Napi::Number>().DoubleValue();
    constexpr double kInt64End = 9223372036854775808.0;  // 2^63
    if (std::trunc(d) == d && d >= -kInt64End && d < kInt64End) return static_cast<int64_t>(d);
  } else if (value.IsBigInt()) {
    bool lossless = false;
    const int64_t i = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (lossless) return i;
  }
  Mismatch(value, what, "an integer");
}

std::string ToStr(const Napi::Value& value, const std::string& what, const char* expected) {
  if (!value.IsString()) Mismatch(value, what, expected);
  return value.As<Napi::String>().Utf8Value();
}

c10::IValue ToList(const Napi::Value& value, const c10::TypePtr& element, const std::string& what) {
  const auto kind = element->kind();
  const bool ints = kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType;
  // int[2] kernel_size=3 in Python: one number stands for a one-element list, which libtorch expands.
  if (ints && (value.IsNumber() || value.IsBigInt())) return c10::List<int64_t>({ToInt(value, what)});
  if (!value.IsArray()) Mismatch(value, what, "an array (" + element->annotation_str() + "[])");
  const auto array = value.As<Napi::Array>();
  const uint32_t n = array.Length();
  auto item = [&](uint32_t i) { return what + "[" + std::to_string(i) + "]"; };
  // Typed lists for the common element types: what the unboxed kernels read without a conversion.
  if (ints) {
    c10::List<int64_t> list;
    list.reserve(n);
    for (uint32_t i = 0; i < n; ++i) list.push_back(ToInt(array.Get(i), item(i)));
    return list;
  }
  if (kind == c10::TypeKind::TensorType) {
    c10::List<at::Tensor> list;
    list.reserve(n);
    for (uint32_t i = 0; i < n; ++i) list.push_back(ToIValue(array.Get(i), element, item(i)).toTensor());
    return list;
  }
  // SymInt lists are int lists to the kernels (ivalue_to_arg<SymIntArrayRef> reads an IntList).
  c10::impl::GenericList list(kind == c10::TypeKind::SymIntType ? c10::IntType::get() : element);
  list.reserve(n);
  for (uint32_t i = 0; i < n; ++i) list.push_back(ToIValue(array.Get(i), element, item(i)));
  return list;
}

c10::IValue ToDict(const Napi::Value& value, const c10::DictTypePtr& type, const std::string& what) {
  if (!value.IsObject() || value.IsArray()) Mismatch(value, what, "an object (" + type->annotation_str() + ")");
  Napi::Env env = value.Env();
  const auto key_type = type->getKeyType();
  c10::impl::GenericDict dict(key_type, type->getValueType());
  auto insert = [&](const Napi::Value& key, const Napi::Value& item) {
    const std::string name = key.ToString().Utf8Value();
    c10::IValue k;
    if (key_type->kind() == c10::TypeKind::StringType) {
      k = name;
    } else if (key_type->kind() == c10::TypeKind::IntType) {
      k = ToInt(key.IsString() ? Napi::Value(Napi::Number::New(env, std::stod(name))) : key, what + " key");
    } else {
      k = ToIValue(key, key_type, what + " key");
    }
    dict.insert_or_assign(std::move(k), ToIValue(item, type->getValueType(), what + "['" + name + "']"));
  };
  const auto object = value.As<Napi::Object>();
  // A Map of any realm (jest's vm contexts have their own Map): its tag, not instanceof this realm's Map.
  const auto to_string = env.Global().Get("Object").As<Napi::Object>().Get("prototype").As<Napi::Object>().Get("toString");
  const bool is_map = to_string.As<Napi::Function>().Call(object, {}).As<Napi::String>().Utf8Value() == "[object Map]";
  if (is_map) {
    // [...map] gives [key, value] pairs.
    const auto entries = env.Global().Get("Array").As<Napi::Object>().Get("from").As<Napi::Function>().Call({object});
    const auto pairs = entries.As<Napi::Array>();
    for (uint32_t i = 0; i < pairs.Length(); ++i) {
      const auto pair = pairs.Get(i).As<Napi::Array>();
      insert(pair.Get(0u), pair.Get(1u));
    }
  } else {
    const auto keys = object.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) insert(keys.Get(i), object.Get(keys.Get(i)));
  }
  return dict;
}

// A JS value as an IValue of unknown type (Any): the narrowest TorchScript type that holds it.
c10::IValue Infer(const Napi::Value& value, const std::string& what) {
  if (value.IsNull() || value.IsUndefined()) return {};
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value();
  if (value.IsNumber()) {
    const double d = value.As<Napi::Number>().DoubleValue();
    if (std::trunc(d) == d && std::abs(d) < 9007199254740992.0) return static_cast<int64_t>(d);
    return d;
  }
  if (value.IsBigInt()) {
    // A handle made inside torch.tidy() is a BigInt too (tensor.h).
    if (const at::Tensor* tensor = TensorWrap::TryFrom(value)) return *tensor;
    return ToInt(value, what);
  }
  if (value.IsString()) return value.As<Napi::String>().Utf8Value();
  if (value.IsArray()) {
    const auto array = value.As<Napi::Array>();
    std::vector<c10::IValue> items;
    for (uint32_t i = 0; i < array.Length(); ++i) items.push_back(Infer(array.Get(i), what + "[" + std::to_string(i) + "]"));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (const at::Tensor* tensor = TensorWrap::TryFrom(value)) return *tensor;
  Mismatch(value, what, "a Tensor, number, boolean, string, array or null");
}

}  // namespace

std::string Describe(const Napi::Value& value) {
  if (value.IsNull()) return "null";
  if (value.IsUndefined()) return "undefined";
  if (value.IsArray()) return "an array of " + std::to_string(value.As<Napi::Array>().Length());
  // A handle is an External or a BigInt (tensor.h), neither of which IsObject() takes.
  if (TensorWrap::Is(value)) return "a Tensor";
  if (value.IsObject()) return "an object";
  if (value.IsExternal()) return "an external";  // another native handle: ToString() would throw on it
  if (value.IsString()) return "'" + value.As<Napi::String>().Utf8Value() + "' (string)";
  return value.ToString().Utf8Value() + " (" +
         (value.IsNumber() ? "number" : value.IsBoolean() ? "boolean" : value.IsBigInt() ? "bigint" : "value") + ")";
}

c10::Layout ParseLayout(const std::string& name) {
  for (const auto& entry : kLayouts) {
    if (name == entry.name) return entry.layout;
  }
  throw std::invalid_argument("unsupported layout '" + name + "'");
}

std::string LayoutName(c10::Layout layout) {
  for (const auto& entry : kLayouts) {
    if (layout == entry.layout) return entry.name;
  }
  return c10::toString(layout);
}

c10::MemoryFormat ParseMemoryFormat(const std::string& name) {
  for (const auto& entry : kMemoryFormats) {
    if (name == entry.name) return entry.format;
  }
  throw std::invalid_argument("unsupported memory format '" + name + "'");
}

std::string MemoryFormatName(c10::MemoryFormat format) {
  for (const auto& entry : kMemoryFormats) {
    if (format == entry.format) return entry.name;
  }
  return c10::toString(format);
}

c10::IValue ToIValue(const Napi::Value& value, const c10::TypePtr& type, const std::string& what) {
  Napi::Env env = value.Env();
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      if (const at::Tensor* tensor = TensorWrap::TryFrom(value)) return *tensor;
      Mismatch(value, what, "a Tensor");
    case c10::TypeKind::OptionalType:
      if (value.IsNull() || value.IsUndefined()) return {};
      return ToIValue(value, type->castRaw<c10::OptionalType>()->getElementType(), what);
    case c10::TypeKind::NoneType:
      if (value.IsNull() || value.IsUndefined()) return {};
      Mismatch(value, what, "null");
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return ToInt(value, what);
    case c10::TypeKind::FloatType:
      if (!value.IsNumber()) Mismatch(value, what, "a number");
      return value.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType:
      if (!value.IsBoolean()) Mismatch(value, what, "a boolean");
      return value.As<Napi::Boolean>().Value();
    case c10::TypeKind::StringType:
      return ToStr(value, what, "a string");
    case c10::TypeKind::NumberType:  // Scalar
      if (value.IsBoolean()) return at::Scalar(value.As<Napi::Boolean>().Value());
      if (value.IsNumber()) {
        // A JS number has no int/float distinction: an integral one is a Python int (int64 tensor + 1 stays
        // int64), any other a Python float.
        const double d = value.As<Napi::Number>().DoubleValue();
        if (std::trunc(d) == d && std::abs(d) < 9223372036854775808.0) return at::Scalar(static_cast<int64_t>(d));
        return at::Scalar(d);
      }
      if (value.IsBigInt()) return at::Scalar(ToInt(value, what));
      Mismatch(value, what, "a number or a boolean (Scalar)");
    case c10::TypeKind::ScalarTypeType:
      try {
        return static_cast<int64_t>(ParseDtype(ToStr(value, what, "a dtype name")));
      } catch (const std::invalid_argument&) {
        std::string names;
        for (const auto& name : DtypeNames()) names += (names.empty() ? "'" : ", '") + name + "'";
        Mismatch(value, what, "a dtype (" + names + ")");
      }
    case c10::TypeKind::LayoutType:
      try {
        return static_cast<int64_t>(ParseLayout(ToStr(value, what, "a layout name")));
      } catch (const std::invalid_argument&) {
        Mismatch(value, what, "a layout ('strided', 'sparse_coo', 'sparse_csr')");
      }
    case c10::TypeKind::MemoryFormatType:
      try {
        return static_cast<int64_t>(ParseMemoryFormat(ToStr(value, what, "a memory format name")));
      } catch (const std::invalid_argument&) {
        Mismatch(value, what, "a memory format ('contiguous_format', 'preserve_format', 'channels_last', ...)");
      }
    case c10::TypeKind::DeviceObjType:
      return ParseDevice(ToStr(value, what, "a device name ('cpu', 'cuda', 'cuda:0')"));
    case c10::TypeKind::GeneratorType:
      // No Generator objects in JS yet: the default generator, seeded by torch.manual_seed.
      if (value.IsNull() || value.IsUndefined()) return {};
      Mismatch(value, what, "null (the default generator)");
    case c10::TypeKind::ListType:
      return ToList(value, type->castRaw<c10::ListType>()->getElementType(), what);
    case c10::TypeKind::TupleType: {
      const auto& elements = type->castRaw<c10::TupleType>()->elements();
      if (!value.IsArray() || value.As<Napi::Array>().Length() != elements.size()) {
        Mismatch(value, what, "an array of " + std::to_string(elements.size()) + " (" + type->annotation_str() + ")");
      }
      const auto array = value.As<Napi::Array>();
      std::vector<c10::IValue> items;
      items.reserve(elements.size());
      for (uint32_t i = 0; i < elements.size(); ++i) {
        items.push_back(ToIValue(array.Get(i), elements[i], what + "[" + std::to_string(i) + "]"));
      }
      return c10::ivalue::Tuple::create(std::move(items));
    }
    case c10::TypeKind::DictType:
      return ToDict(value, type->cast<c10::DictType>(), what);
    case c10::TypeKind::AnyType:
      return Infer(value, what);
    case c10::TypeKind::UnionType: {
      for (const auto& option : type->castRaw<c10::UnionType>()->containedTypes()) {
        try {
          return ToIValue(value, option, what);
        } catch (const Napi::TypeError&) {
        }
      }
      Mismatch(value, what, type->annotation_str());
    }
    default:
      throw Napi::TypeError::New(env, what + ": the type " + type->annotation_str() + " cannot be passed from JS");
  }
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& value) {
  if (value.isTensor()) return TensorWrap::New(env, value.toTensor());
  if (value.isNone()) return env.Null();
  if (value.isBool()) return Napi::Boolean::New(env, value.toBool());
  if (value.isInt()) return Napi::Number::New(env, static_cast<double>(value.toInt()));
  if (value.isDouble()) return Napi::Number::New(env, value.toDouble());
  if (value.isString()) return Napi::String::New(env, value.toStringRef());
  if (value.isDevice()) return Napi::String::New(env, DeviceName(value.toDevice()));
  if (value.isList()) {
    const auto list = value.toListRef();
    auto array = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) array.Set(static_cast<uint32_t>(i), FromIValue(env, list[i]));
    return array;
  }
  if (value.isTuple()) {
    const auto& items = value.toTupleRef().elements();
    auto array = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); ++i) array.Set(static_cast<uint32_t>(i), FromIValue(env, items[i]));
    return array;
  }
  if (value.isGenericDict()) {
    const auto dict = value.toGenericDict();
    if (dict.keyType()->kind() == c10::TypeKind::StringType) {
      auto object = Napi::Object::New(env);
      for (const auto& entry : dict) object.Set(entry.key().toStringRef(), FromIValue(env, entry.value()));
      return object;
    }
    auto map = env.Global().Get("Map").As<Napi::Function>().New({});
    auto set = map.Get("set").As<Napi::Function>();
    for (const auto& entry : dict) set.Call(map, {FromIValue(env, entry.key()), FromIValue(env, entry.value())});
    return map;
  }
  if (value.isScalar()) {  // a complex number
    throw Napi::TypeError::New(env, "a complex number cannot be returned to JS");
  }
  throw Napi::TypeError::New(env, std::string("a value of kind ") + value.tagKind() + " cannot be returned to JS");
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& value, const c10::TypePtr& type) {
  if (value.isInt()) {
    switch (type->kind()) {
      case c10::TypeKind::ScalarTypeType:
        return Napi::String::New(env, DtypeName(static_cast<at::ScalarType>(value.toInt())));
      case c10::TypeKind::LayoutType:
        return Napi::String::New(env, LayoutName(static_cast<c10::Layout>(value.toInt())));
      case c10::TypeKind::MemoryFormatType:
        return Napi::String::New(env, MemoryFormatName(static_cast<c10::MemoryFormat>(value.toInt())));
      case c10::TypeKind::OptionalType:
        return FromIValue(env, value, type->castRaw<c10::OptionalType>()->getElementType());
      default:
        break;
    }
  }
  return FromIValue(env, value);
}

}  // namespace lt
