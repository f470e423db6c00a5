#include "serialization.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common.h"
#include "errors.h"
#include "tensor.h"
#include "worker.h"

namespace lt {

namespace {

// The whole memory of t's storage, copied now into a new CPU byte tensor: what torch.save writes for t (a view
// included, as PyTorch does), safe from later changes to t while a worker thread writes it out.
at::Tensor StorageBytes(const at::Tensor& t) {
  const auto nbytes = static_cast<int64_t>(t.storage().nbytes());
  auto bytes = at::empty({0}, at::TensorOptions().dtype(at::kByte).device(t.device()));
  bytes.set_(t.storage(), /*storage_offset=*/0, {nbytes}, {1});
  return bytes.to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
}

// A record's bytes as a CPU byte tensor, without copying them.
at::Tensor RecordTensor(at::DataPtr data, size_t size) {
  if (size == 0) return at::empty({0}, at::kByte);
  auto owner = std::make_shared<at::DataPtr>(std::move(data));
  return torch::from_blob(owner->get(), {static_cast<int64_t>(size)}, [owner](void*) mutable { owner.reset(); },
                          at::TensorOptions().dtype(at::kByte));
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// torch.save's file: data.pkl, then data/0, data/1, ... (storages[i]'s bytes), then libtorch's version record.
class WriteWorker : public PromiseWorker {
 public:
  WriteWorker(Napi::Env env, std::string path, std::string pickle, std::vector<at::Tensor> storages)
      : PromiseWorker(env, "lenet-torch:save"),
        path_(std::move(path)),
        pickle_(std::move(pickle)),
        storages_(std::move(storages)) {}

 protected:
  void Run() override {
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path_.c_str(), "wb"));
    if (!file) throw std::runtime_error("cannot open '" + path_ + "' for writing: " + std::strerror(errno));
    // The writer is told that every write succeeded, and the first failure is kept here: a failed write makes
    // PyTorchStreamWriter throw, and libtorch 1.13's throws again from its destructor, which would terminate.
    int error = 0;
    {
      caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t n) -> size_t {
        if (error == 0 && n > 0 && std::fwrite(data, 1, n, file.get()) != n) error = errno != 0 ? errno : EIO;
        return n;
      });
      writer.writeRecord("data.pkl", pickle_.data(), pickle_.size());
      for (size_t i = 0; i < storages_.size(); ++i) {
        const auto& bytes = storages_[i];
        writer.writeRecord("data/" + std::to_string(i), bytes.data_ptr(), static_cast<size_t>(bytes.numel()));
      }
      writer.writeEndOfFile();
    }
    if (std::fclose(file.release()) != 0 && error == 0) error = errno;
    if (error != 0) throw std::runtime_error("cannot write '" + path_ + "': " + std::strerror(error));
  }

  Napi::Value Result() override { return Env().Undefined(); }

 private:
  std::string path_;
  std::string pickle_;
  std::vector<at::Tensor> storages_;
};

// torch.load's file: data.pkl's bytes and every other record as a CPU byte tensor.
class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(Napi::Env env, std::string path) : PromiseWorker(env, "lenet-torch:load"), path_(std::move(path)) {}

 protected:
  void Run() override {
    caffe2::serialize::PyTorchStreamReader reader(path_);
    bool found = false;
    for (const auto& name : reader.getAllRecords()) {
      at::DataPtr data;
      size_t size = 0;
      std::tie(data, size) = reader.getRecord(name);
      if (name == "data.pkl") {
        pickle_.assign(static_cast<const char*>(data.get()), size);
        found = true;
      } else {
        records_.emplace_back(name, RecordTensor(std::move(data), size));
      }
    }
    if (!found) throw std::runtime_error("the archive has no data.pkl record (it was not written by torch.save)");
  }

  Napi::Value Result() override {
    Napi::Env env = Env();
    auto records = Napi::Array::New(env, records_.size());
    for (size_t i = 0; i < records_.size(); ++i) {
      auto pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::String::New(env, records_[i].first));
      pair.Set(1u, TensorWrap::New(env, std::move(records_[i].second)));
      records.Set(static_cast<uint32_t>(i), pair);
    }
    auto result = Napi::Array::New(env, 2);
    result.Set(0u, Napi::Buffer<char>::Copy(env, pickle_.data(), pickle_.size()));
    result.Set(1u, records);
    return result;
  }

 private:
  std::string path_;
  std::string pickle_;
  std::vector<std::pair<std::string, at::Tensor>> records_;
};

// storageLayout(tensors) -> per tensor [storage, offset, stride, storage numel], where storage is the index of the
// first tensor that shares its memory (torch.save writes each storage once).
Napi::Value StorageLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto tensors = info[0].As<Napi::Array>();
  std::unordered_map<const void*, uint32_t> first;
  auto result = Napi::Array::New(env, tensors.Length());
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    const auto& t = TensorWrap::From(tensors.Get(i), "tensors");
    const auto storage = first.emplace(t.storage().unsafeGetStorageImpl(), i).first->second;
    auto entry = Napi::Array::New(env, 4);
    entry.Set(0u, Napi::Number::New(env, storage));
    entry.Set(1u, Napi::Number::New(env, static_cast<double>(t.storage_offset())));
    entry.Set(2u, FromShape(env, t.strides()));
    entry.Set(3u, Napi::Number::New(env, static_cast<double>(t.storage().nbytes() / t.element_size())));
    result.Set(i, entry);
  }
  return result;
}

// writeArchive(path, pickle, storages): the storages' bytes are copied now, the file written off the main thread.
Napi::Value WriteArchive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  const auto pickle = info[1].As<Napi::Uint8Array>();
  std::string bytes(reinterpret_cast<const char*>(pickle.Data()), pickle.ByteLength());
  const auto array = info[2].As<Napi::Array>();
  std::vector<at::Tensor> storages;
  for (uint32_t i = 0; i < array.Length(); ++i) storages.push_back(StorageBytes(TensorWrap::From(array.Get(i), "storages")));
  return (new WriteWorker(env, std::move(path), std::move(bytes), std::move(storages)))->Start();
}

// readArchive(path) -> Promise<[pickle, [[name, bytes], ...]]>
Napi::Value ReadArchive(const Napi::CallbackInfo& info) {
  return (new ReadWorker(info.Env(), info[0].As<Napi::String>()))->Start();
}

// fromStorage(bytes, dtype, size, stride, offset): a storage's bytes (1-D uint8, any device) seen as dtype, as
// PyTorch's _rebuild_tensor_v2 sees them. lib/ has checked that the view stays inside the storage.
Napi::Value FromStorage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& bytes = TensorWrap::From(info[0], "storage");
  const auto typed = bytes.view(ParseDtype(info[1].As<Napi::String>()));
  return TensorWrap::New(env, typed.as_strided(ToShape(info[2]), ToShape(info[3]), info[4].As<Napi::Number>().Int64Value()));
}

// copyTensors(destinations, sources): load_state_dict's copy, in place and without autograd, each destination
// keeping its dtype and device; every tensor is checked (not disposed, not held) before any is written.
Napi::Value CopyTensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto destinations = info[0].As<Napi::Array>();
  const auto sources = info[1].As<Napi::Array>();
  std::vector<at::Tensor> dst, src;
  for (uint32_t i = 0; i < destinations.Length(); ++i) dst.push_back(TensorWrap::From(destinations.Get(i), "destinations"));
  for (uint32_t i = 0; i < sources.Length(); ++i) src.push_back(TensorWrap::From(sources.Get(i), "sources"));
  if (dst.size() != src.size()) throw std::invalid_argument("copyTensors: as many destinations as sources");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
  return env.Undefined();
}

}  // namespace

void InitSerialization(Napi::Env env, Napi::Object exports) {
  exports.Set("storageLayout", Function<&StorageLayout>(env, "storageLayout"));
  exports.Set("writeArchive", Function<&WriteArchive>(env, "writeArchive"));
  exports.Set("readArchive", Function<&ReadArchive>(env, "readArchive"));
  exports.Set("fromStorage", Function<&FromStorage>(env, "fromStorage"));
  exports.Set("copyTensors", Function<&CopyTensors>(env, "copyTensors"));
}

}  // namespace lt
