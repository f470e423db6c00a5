#include "jit.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/shape_analysis.h>
#include <torch/csrc/jit/serialization/python_print.h>

#include <cctype>
#include <map>
#include <optional>
#include <sstream>

#include "common.h"
#include "hold.h"
#include "ivalue.h"
#include "tensor.h"
#include "worker.h"

namespace lt {

namespace {

// torch.jit.load on a worker thread: reading and unpickling a file of tens of MB takes tens of ms.
class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, c10::optional<c10::Device> device)
      : PromiseWorker(env, "lenet-torch:jit.load"), path_(std::move(path)), device_(device) {}

 protected:
  void Run() override { module_ = torch::jit::load(path_, device_); }
  Napi::Value Result() override { return ScriptModuleWrap::New(Env(), std::move(module_)); }

 private:
  std::string path_;
  c10::optional<c10::Device> device_;
  torch::jit::Module module_;
};

// jitLoad(path, map_location | null): Promise<ScriptModule>
Napi::Value Load(const Napi::CallbackInfo& info) {
  c10::optional<c10::Device> device;
  if (info[1].IsString()) device = ParseDevice(info[1].As<Napi::String>());
  return (new LoadWorker(info.Env(), info[0].As<Napi::String>(), device))->Start();
}

// A JS class name as a TorchScript identifier.
std::string Identifier(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "Module" + out;
  return out;
}

// jitTrace(fn, inputs, modules, state): a ScriptModule whose forward is what fn() computes from inputs.
//   fn       () => Tensor handle: the net's forward on the example inputs (JS, run here, on this thread)
//   inputs   the example input tensors, the traced forward's arguments in order
//   modules  [dotted path, class name, training] for the net and each module below it, parents first ('' first)
//   state    [dotted name, tensor, is_buffer] for each parameter and buffer, each tensor once
// The ScriptModule's parameters are the net's own tensors (the same memory): training either trains both.
Napi::Value Trace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto fn = info[0].As<Napi::Function>();
  torch::jit::Stack inputs;
  const auto input_array = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < input_array.Length(); ++i) inputs.emplace_back(TensorWrap::From(input_array.Get(i), "inputs"));

  const auto cu = std::make_shared<torch::jit::CompilationUnit>();
  std::map<std::string, torch::jit::Module> by_path;
  const auto modules = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < modules.Length(); ++i) {
    const auto entry = modules.Get(i).As<Napi::Array>();
    const std::string path = entry.Get(0u).As<Napi::String>();
    const std::string kind = entry.Get(1u).As<Napi::String>();
    torch::jit::Module module(c10::QualifiedName("__torch__.lenet_torch." + Identifier(kind)), cu,
                              /*shouldMangle=*/true);
    // torch::jit::Module::train() and Python's ScriptModule expect every module to carry it.
    module.register_attribute("training", c10::BoolType::get(), entry.Get(2u).ToBoolean().Value());
    if (!path.empty()) {
      const auto dot = path.rfind('.');
      const std::string parent = dot == std::string::npos ? "" : path.substr(0, dot);
      by_path.at(parent).register_module(dot == std::string::npos ? path : path.substr(dot + 1), module);
    }
    by_path.emplace(path, module);
  }
  const auto state = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < state.Length(); ++i) {
    const auto entry = state.Get(i).As<Napi::Array>();
    const std::string name = entry.Get(0u).As<Napi::String>();
    const auto dot = name.rfind('.');
    auto& owner = by_path.at(dot == std::string::npos ? "" : name.substr(0, dot));
    owner.register_parameter(dot == std::string::npos ? name : name.substr(dot + 1),
                             TensorWrap::From(entry.Get(1u), "state"), /*is_buffer=*/entry.Get(2u).ToBoolean());
  }
  auto root = by_path.at("");
  // forward(self, input) as Python's trace of an nn.Module names it; input_0, input_1, ... for several.
  std::vector<std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) names.push_back(inputs.size() == 1 ? "input" : "input_" + std::to_string(i));

  // The tracer records every ATen operation this thread runs until fn returns; the parameters it meets are found
  // in root (by identity), so the graph reads them from the module rather than baking them in as constants.
  auto traced = torch::jit::tracer::trace(
      std::move(inputs),
      [&](torch::jit::Stack) -> torch::jit::Stack {
        const auto out = fn.Call({});
        return {TensorWrap::From(out, "the result of forward()")};
      },
      [](const at::Tensor&) { return std::string(); }, /*strict=*/true, /*force_outplace=*/false, &root, names);
  auto graph = traced.first->graph;
  auto function = cu->create_function(c10::QualifiedName(*root.type()->name(), "forward"), graph);
  root.type()->addMethod(function);
  return ScriptModuleWrap::New(env, root);
}

// A method call on a worker thread. The arguments were converted on the main thread; the result is converted back
// there. Method holds the module, so a module that JS lets go of lives until its calls end.
class MethodWorker : public PromiseWorker {
 public:
  MethodWorker(Napi::Env env, torch::jit::Method method, torch::jit::Stack args, bool grad,
               std::shared_ptr<std::atomic<int>> running)
      : PromiseWorker(env, "lenet-torch:ScriptModule", Thread::kCompute),
        method_(std::move(method)),
        args_(std::move(args)),
        grad_(grad),
        running_(std::move(running)) {
    ++*running_;
  }

 protected:
  // Grad mode is per thread: the caller's, taken when the call was made.
  void Run() override {
    c10::AutoGradMode grad(grad_);
    result_ = method_(std::move(args_));
  }
  Napi::Value Result() override { return FromIValue(Env(), result_); }
  void Release() override {
    if (running_) --*running_;
    running_.reset();
  }

 private:
  torch::jit::Method method_;
  torch::jit::Stack args_;
  bool grad_;
  std::shared_ptr<std::atomic<int>> running_;
  c10::IValue result_;
};

// The schema as a caller writes the call: without `self`.
std::string CallSchema(const c10::FunctionSchema& schema) {
  auto args = schema.arguments();
  if (!args.empty() && args[0].name() == "self") args.erase(args.begin());
  std::ostringstream out;
  out << schema.cloneWithArguments(std::move(args));
  return out.str();
}

}  // namespace

Napi::Function ScriptModuleWrap::Init(Napi::Env env) {
  return DefineClass(env, "ScriptModule",
                     {
                         Method<&ScriptModuleWrap::RunMethod>("runMethod"),
                         Method<&ScriptModuleWrap::MethodNames>("methodNames"),
                         Method<&ScriptModuleWrap::Signature>("signature"),
                         Method<&ScriptModuleWrap::NamedParameters>("namedParameters"),
                         Method<&ScriptModuleWrap::StateDict>("stateDict"),
                         Method<&ScriptModuleWrap::Train>("train"),
                         Method<&ScriptModuleWrap::IsTraining>("isTraining"),
                         Method<&ScriptModuleWrap::To>("to"),
                         Method<&ScriptModuleWrap::Save>("save"),
                         Method<&ScriptModuleWrap::Code>("code"),
                         Method<&ScriptModuleWrap::Graph>("graph"),
                         Method<&ScriptModuleWrap::CheckIdleFn>("checkIdle"),
                     });
}

Napi::Value ScriptModuleWrap::New(Napi::Env env, torch::jit::Module module) {
  return Data(env).script_module.New({Napi::External<torch::jit::Module>::New(env, &module)});
}

// Only through New(): new ScriptModule(External<torch::jit::Module>).
ScriptModuleWrap::ScriptModuleWrap(const Napi::CallbackInfo& info) : Wrap<ScriptModuleWrap>(info) {
  Construct(info, [&] {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "ScriptModule: use torch.jit.load or torch.jit.trace");
    module_ = *info[0].As<Napi::External<torch::jit::Module>>().Data();
  });
}

ScriptModuleWrap* ScriptModuleWrap::FromOptional(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(Data(value.Env()).script_module.Value())) return nullptr;
  return Unwrap(value.As<Napi::Object>());
}

void ScriptModuleWrap::CheckNotHeld(Napi::Env env) const {
  for (const auto& p : module_.parameters(/*recurse=*/true)) lt::CheckNotHeld(env, p);
  for (const auto& b : module_.buffers(/*recurse=*/true)) lt::CheckNotHeld(env, b);
}

void ScriptModuleWrap::CheckIdle(Napi::Env env, const char* what) const {
  if (*running_ > 0) {
    throw Napi::Error::New(env, std::string("lenet-torch: ScriptModule.") + what + " while " +
                                    std::to_string(running_->load()) +
                                    " of its method calls run; await them first");
  }
  CheckNotHeld(env);
}

torch::jit::Method ScriptModuleWrap::Find(Napi::Env env, const std::string& name) const {
  if (auto method = module_.find_method(name)) return *method;
  std::string names;
  for (const auto& m : module_.get_methods()) names += (names.empty() ? "" : ", ") + m.name();
  throw Napi::Error::New(env, "ScriptModule (" + module_.type()->name()->qualifiedName() + ") has no method '" + name +
                                  "'; its methods: " + (names.empty() ? "none" : names));
}

namespace {

// The arguments a caller passes: the schema's less `self`; the last `optional` of them have defaults.
struct Signature {
  size_t first, max, min;
};
Signature SignatureOf(const c10::FunctionSchema& schema) {
  const auto& args = schema.arguments();
  Signature s;
  s.first = args.empty() || args[0].name() != "self" ? 0 : 1;
  s.max = args.size() - s.first;
  s.min = s.max;
  while (s.min > 0 && args[s.first + s.min - 1].default_value()) --s.min;
  return s;
}

}  // namespace

// runMethod(name, args): each argument converted by the method's schema here, on the main thread (a TypeError
// naming the schema for a wrong type); lib/ has checked the count against signature().
Napi::Value ScriptModuleWrap::RunMethod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto method = Find(env, info[0].As<Napi::String>());
  const auto& schema = method.function().getSchema();
  const auto signature = SignatureOf(schema);
  const auto given = info[1].As<Napi::Array>();
  if (given.Length() < signature.min || given.Length() > signature.max) {
    throw std::invalid_argument("runMethod: " + std::to_string(given.Length()) + " arguments for " + CallSchema(schema));
  }
  const auto call = CallSchema(schema);
  torch::jit::Stack args;
  for (uint32_t i = 0; i < given.Length(); ++i) {
    const auto& argument = schema.arguments()[signature.first + i];
    args.push_back(ToIValue(given.Get(i), argument.type(), "argument '" + argument.name() + "' of " + call));
  }
  CheckNotHeld(env);
  return (new MethodWorker(env, method, std::move(args), at::GradMode::is_enabled(), running_))->Start();
}

Napi::Value ScriptModuleWrap::MethodNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto methods = module_.get_methods();
  auto result = Napi::Array::New(env, methods.size());
  for (size_t i = 0; i < methods.size(); ++i) result.Set(static_cast<uint32_t>(i), methods[i].name());
  return result;
}

// signature(name): [the schema as a caller writes the call ("forward(Tensor x, int n=1) -> Tensor"), the fewest
// arguments, the most].
Napi::Value ScriptModuleWrap::Signature(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& schema = Find(env, info[0].As<Napi::String>()).function().getSchema();
  const auto signature = SignatureOf(schema);
  auto result = Napi::Array::New(env, 3);
  result.Set(0u, CallSchema(schema));
  result.Set(1u, static_cast<double>(signature.min));
  result.Set(2u, static_cast<double>(signature.max));
  return result;
}

Napi::Value ScriptModuleWrap::NamedParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto params = module_.named_parameters(/*recurse=*/true);
  std::vector<std::pair<std::string, at::Tensor>> entries;
  for (const auto& p : params) entries.emplace_back(p.name, p.value);
  auto result = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, entries[i].first));
    pair.Set(1u, TensorWrap::New(env, entries[i].second, /*owned=*/false));
    result.Set(static_cast<uint32_t>(i), pair);
  }
  return result;
}

// As ModuleWrap::StateDict: depth first, each module's parameters then its buffers, detached, sharing memory.
Napi::Value ScriptModuleWrap::StateDict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotHeld(env);
  std::vector<std::pair<std::string, at::Tensor>> entries;
  for (const auto& item : module_.named_modules()) {
    const std::string prefix = item.name.empty() ? "" : item.name + ".";
    for (const auto& p : item.value.named_parameters(/*recurse=*/false)) entries.emplace_back(prefix + p.name, p.value);
    for (const auto& b : item.value.named_buffers(/*recurse=*/false)) entries.emplace_back(prefix + b.name, b.value);
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

Napi::Value ScriptModuleWrap::Train(const Napi::CallbackInfo& info) {
  CheckIdle(info.Env(), "train()");
  module_.train(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value ScriptModuleWrap::IsTraining(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), module_.is_training());
}

// to(device | null, dtype | null)
Napi::Value ScriptModuleWrap::To(const Napi::CallbackInfo& info) {
  CheckIdle(info.Env(), "to()");
  if (info[0].IsString()) module_.to(ParseDevice(info[0].As<Napi::String>()));
  if (info[1].IsString()) module_.to(ParseDtype(info[1].As<Napi::String>()));
  return info.Env().Undefined();
}

// save(path): the TorchScript archive Python's torch.jit.load reads. Synchronous, as torch.jit.save: the file is
// the size of the parameters.
Napi::Value ScriptModuleWrap::Save(const Napi::CallbackInfo& info) {
  CheckNotHeld(info.Env());
  module_.save(info[0].As<Napi::String>().Utf8Value());
  return info.Env().Undefined();
}

// code(): forward's TorchScript source, as PyTorch's `module.code`.
Napi::Value ScriptModuleWrap::Code(const Napi::CallbackInfo& info) {
  std::vector<at::IValue> constants;
  torch::jit::PrintDepsTable deps;
  torch::jit::PythonPrint printer(constants, deps);
  printer.printMethod(Find(info.Env(), "forward").function());
  return Napi::String::New(info.Env(), printer.str());
}

// graph(): forward's graph, as PyTorch's `str(module.graph)`.
// graph(withShapes = true): forward's graph as text; without shapes, what two traces of one forward on batches of
// different sizes share when nothing in it depends on the batch size (lib/d2l/train.ts compares them).
Napi::Value ScriptModuleWrap::Graph(const Napi::CallbackInfo& info) {
  auto graph = Find(info.Env(), "forward").graph();
  if (info[0].IsBoolean() && !info[0].As<Napi::Boolean>().Value()) {
    graph = graph->copy();
    torch::jit::EraseShapeInformation(graph);
  }
  return Napi::String::New(info.Env(), graph->toString(/*print_source_locations=*/false));
}

// checkIdle(what): CheckIdle for what lib/ changes through other calls (load_state_dict's copy).
Napi::Value ScriptModuleWrap::CheckIdleFn(const Napi::CallbackInfo& info) {
  CheckIdle(info.Env(), info[0].As<Napi::String>().Utf8Value().c_str());
  return info.Env().Undefined();
}

void InitJit(Napi::Env env, Napi::Object exports) {
  auto script_module = ScriptModuleWrap::Init(env);
  Data(env).script_module = Napi::Persistent(script_module);
  exports.Set("ScriptModule", script_module);
  exports.Set("jitLoad", Function<&Load>(env, "jitLoad"));
  exports.Set("jitTrace", Function<&Trace>(env, "jitTrace"));
}

}  // namespace lt
