#include "serialization.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
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

std::string ErrnoText(int error) {
  const char* name = strerrorname_np(error);
  return std::string(std::strerror(error)) + (name != nullptr ? std::string(" (") + name + ")" : std::string());
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// A temporary file beside `target` (so that rename() can replace target atomically), created with the permissions
// a new file gets (0666 less the umask), or those of the file it will replace.
std::pair<int, std::string> CreateTemporary(const std::string& target, const struct stat* old) {
  const auto slash = target.rfind('/');
  const std::string folder = slash == std::string::npos ? std::string() : target.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", random());
    std::string name = folder + "." + base + "." + suffix + ".tmp";
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      if (old != nullptr) ::fchmod(fd, old->st_mode & 07777);
      return {fd, std::move(name)};
    }
    if (errno != EEXIST) break;
  }
  throw std::runtime_error("cannot open '" + target + "' for writing: " + ErrnoText(errno));
}

// torch.save's file: data.pkl, then data/0, data/1, ... (storages[i]'s bytes), then libtorch's version record.
// Written to a temporary file in the same folder, flushed to disk, then renamed over the old file (and the folder
// flushed): a process killed mid-write, a full disk or a crash leaves the old file as it was, never a part of one.
class WriteWorker : public PromiseWorker {
 public:
  WriteWorker(Napi::Env env, std::string path, std::string pickle, std::vector<at::Tensor> storages)
      : PromiseWorker(env, "lenet-torch:save"),
        path_(std::move(path)),
        pickle_(std::move(pickle)),
        storages_(std::move(storages)) {}

 protected:
  void Run() override {
    std::string target = path_;
    struct stat old {};
    const bool exists = ::stat(target.c_str(), &old) == 0;
    if (exists && S_ISDIR(old.st_mode)) {
      throw std::runtime_error("cannot open '" + path_ + "' for writing: " + ErrnoText(EISDIR));
    }
    if (exists && !S_ISREG(old.st_mode)) {
      // A device or a FIFO (torch.save to /dev/null): nothing to replace, and never a file renamed over it.
      const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("cannot open '" + path_ + "' for writing: " + ErrnoText(errno));
      if (const int error = Write(fd); error != 0) {
        throw std::runtime_error("cannot write '" + path_ + "': " + ErrnoText(error));
      }
      return;
    }
    if (exists) {
      // A symbolic link stays one: the file it points to is replaced.
      std::unique_ptr<char, decltype(&std::free)> real(::realpath(target.c_str(), nullptr), &std::free);
      if (real) target = real.get();
    }
    auto [fd, temporary] = CreateTemporary(target, exists ? &old : nullptr);
    int error = Write(fd);
    if (error == 0 && std::rename(temporary.c_str(), target.c_str()) != 0) error = errno;
    if (error != 0) {
      ::unlink(temporary.c_str());
      throw std::runtime_error("cannot write '" + path_ + "': " + ErrnoText(error));
    }
    // The rename itself reaches the disk when the folder does.
    const auto slash = target.rfind('/');
    const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : target.substr(0, slash);
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

  Napi::Value Result() override { return Env().Undefined(); }

 private:
  // Writes the archive to fd, flushes it to disk and closes fd: the first errno met, or 0.
  int Write(int fd) {
    std::unique_ptr<std::FILE, FileCloser> file(::fdopen(fd, "wb"));
    if (!file) {
      const int error = errno;
      ::close(fd);
      return error;
    }
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
    if (error == 0 && std::fflush(file.get()) != 0) error = errno;
    if (error == 0 && ::fsync(fd) != 0 && errno != EINVAL) error = errno;  // EINVAL: a device that cannot sync
    if (std::fclose(file.release()) != 0 && error == 0) error = errno;
    return error;
  }

  std::string path_;
  std::string pickle_;
  std::vector<at::Tensor> storages_;
};

// A file opened for torch.load: a regular file, or refused (a FIFO without a writer would block a thread forever,
// a device would be read without end). Opened without blocking, so that even a FIFO is refused, not waited on.
class FileReader final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit FileReader(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error(ErrnoText(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw std::runtime_error("it is not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
  }
  ~FileReader() override { ::close(fd_); }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  size_t size() const override { return size_; }

  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(pos + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

 private:
  int fd_;
  size_t size_ = 0;
};

uint64_t Le(const std::vector<uint8_t>& b, size_t at, int bytes) {
  if (at + bytes > b.size()) throw std::runtime_error("its zip directory is damaged");
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}

std::vector<uint8_t> ReadAt(const FileReader& in, uint64_t pos, uint64_t n) {
  if (pos > in.size() || n > in.size() - pos) throw std::runtime_error("its zip directory is damaged");
  std::vector<uint8_t> bytes(n);
  if (in.read(pos, bytes.data(), n, "zip directory") != n) throw std::runtime_error("it ends early");
  return bytes;
}

// A record as the zip's central directory declares it.
struct RecordInfo {
  uint64_t size;    // once inflated: what libtorch's reader allocates and inflates into
  uint32_t crc32;   // of the inflated bytes
  bool deflated;
};

// zlib's CRC-32, bit by bit from a table (only deflated records are checked here: see RecordsWorker).
uint32_t Crc32(const uint8_t* data, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

// Each record as the central directory declares it, by name without the archive's folder ("data/0"). Read here
// because libtorch 1.13's PyTorchStreamReader tells a record's size only by reading the record whole.
std::unordered_map<std::string, RecordInfo> RecordSizes(const FileReader& in) {
  constexpr uint64_t kEndSize = 22;
  if (in.size() < kEndSize) throw std::runtime_error("it is too short to be a zip archive");
  const uint64_t tail_size = std::min<uint64_t>(in.size(), kEndSize + 0xffff);
  const auto tail = ReadAt(in, in.size() - tail_size, tail_size);
  size_t end = tail.size() - kEndSize + 1;
  do {
    if (end-- == 0) throw std::runtime_error("it is not a zip archive (no end of central directory)");
  } while (Le(tail, end, 4) != 0x06054b50);
  uint64_t count = Le(tail, end + 10, 2), size = Le(tail, end + 12, 4), offset = Le(tail, end + 16, 4);
  if (count == 0xffff || size == 0xffffffff || offset == 0xffffffff) {  // zip64
    const uint64_t locator = in.size() - tail_size + end - 20;
    const auto loc = ReadAt(in, locator, 20);
    if (Le(loc, 0, 4) != 0x07064b50) throw std::runtime_error("its zip64 directory is damaged");
    const auto end64 = ReadAt(in, Le(loc, 8, 8), 56);
    if (Le(end64, 0, 4) != 0x06064b50) throw std::runtime_error("its zip64 directory is damaged");
    count = Le(end64, 32, 8);
    size = Le(end64, 40, 8);
    offset = Le(end64, 48, 8);
  }
  const auto dir = ReadAt(in, offset, size);
  std::unordered_map<std::string, RecordInfo> sizes;
  std::string folder;
  size_t at = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (Le(dir, at, 4) != 0x02014b50) throw std::runtime_error("its zip directory is damaged");
    const bool deflated = Le(dir, at + 10, 2) != 0;
    const auto crc32 = static_cast<uint32_t>(Le(dir, at + 16, 4));
    uint64_t inflated = Le(dir, at + 24, 4);
    const size_t name_length = Le(dir, at + 28, 2), extra_length = Le(dir, at + 30, 2);
    const size_t comment_length = Le(dir, at + 32, 2);
    if (at + 46 + name_length + extra_length > dir.size()) throw std::runtime_error("its zip directory is damaged");
    std::string name(reinterpret_cast<const char*>(dir.data() + at + 46), name_length);
    if (inflated == 0xffffffff) {  // the size is in the zip64 extra field, first
      for (size_t e = at + 46 + name_length; e + 4 <= at + 46 + name_length + extra_length;) {
        const size_t id = Le(dir, e, 2), length = Le(dir, e + 2, 2);
        if (id == 0x0001) {
          inflated = Le(dir, e + 4, 8);
          break;
        }
        e += 4 + length;
      }
    }
    // As libtorch's reader: the archive's folder is the first record's, and every record lies in it.
    if (i == 0) folder = name.substr(0, name.find('/') + 1);
    if (folder.empty() || name.compare(0, folder.size(), folder) != 0) {
      throw std::runtime_error("record '" + name + "' is not in the archive's folder");
    }
    if (!sizes.emplace(name.substr(folder.size()), RecordInfo{inflated, crc32, deflated}).second) {
      throw std::runtime_error("it holds the record '" + name + "' twice");
    }
    at += 46 + name_length + extra_length + comment_length;
  }
  return sizes;
}

// An open archive, between torch.load's reading of data.pkl and of the records that data.pkl names.
struct Archive {
  std::unordered_map<std::string, RecordInfo> records;
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
};
using ArchiveHandle = Napi::External<std::shared_ptr<Archive>>;

// torch.load's first step: the file opened (a regular file only), its record sizes, and data.pkl's bytes.
class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(Napi::Env env, std::string path) : PromiseWorker(env, "lenet-torch:load"), path_(std::move(path)) {}

 protected:
  void Run() override {
    auto file = std::make_shared<FileReader>(path_);
    archive_ = std::make_shared<Archive>();
    archive_->records = RecordSizes(*file);
    archive_->reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(file);
    if (!archive_->reader->hasRecord("data.pkl")) {
      throw std::runtime_error("the archive has no data.pkl record (it was not written by torch.save)");
    }
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = archive_->reader->getRecord("data.pkl");
    pickle_.assign(static_cast<const char*>(data.get()), size);
  }

  Napi::Value Result() override {
    Napi::Env env = Env();
    auto records = Napi::Array::New(env, archive_->records.size());
    uint32_t i = 0;
    for (const auto& [name, record] : archive_->records) {
      auto pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::String::New(env, name));
      pair.Set(1u, Napi::Number::New(env, static_cast<double>(record.size)));
      records.Set(i++, pair);
    }
    auto result = Napi::Array::New(env, 3);
    result.Set(0u, Napi::Buffer<char>::Copy(env, pickle_.data(), pickle_.size()));
    result.Set(1u, records);
    result.Set(2u, ArchiveHandle::New(env, new std::shared_ptr<Archive>(std::move(archive_)),
                                      [](Napi::Env, std::shared_ptr<Archive>* p) { delete p; }));
    return result;
  }

 private:
  std::string path_;
  std::string pickle_;
  std::shared_ptr<Archive> archive_;
};

// torch.load's second step: the records data.pkl names, each as a CPU byte tensor of exactly the size data.pkl gives
// it (a record that declares another size is refused before a byte of it is inflated); then the file is closed.
class RecordsWorker : public PromiseWorker {
 public:
  RecordsWorker(Napi::Env env, std::shared_ptr<Archive> archive, std::vector<std::pair<std::string, uint64_t>> wanted)
      : PromiseWorker(env, "lenet-torch:load"), archive_(std::move(archive)), wanted_(std::move(wanted)) {}

 protected:
  void Run() override {
    for (const auto& [name, nbytes] : wanted_) {
      const auto found = archive_->records.find(name);
      if (found == archive_->records.end()) throw std::runtime_error("the archive has no record " + name);
      const auto& record = found->second;
      if (record.size != nbytes) {
        throw std::runtime_error("record " + name + " holds " + std::to_string(record.size) + " bytes, not " +
                                 std::to_string(nbytes));
      }
      at::DataPtr data;
      size_t size = 0;
      std::tie(data, size) = archive_->reader->getRecord(name);
      // libtorch's reader stops inflating at the declared size and then says nothing of what was left, nor checks the
      // CRC: a record that inflates to more than it declares would be cut short silently. (It checks stored ones.)
      if (size != nbytes || (record.deflated && Crc32(static_cast<const uint8_t*>(data.get()), size) != record.crc32)) {
        throw std::runtime_error("record " + name + " is damaged: it does not inflate to the " +
                                 std::to_string(nbytes) + " bytes its CRC-32 describes");
      }
      records_.push_back(RecordTensor(std::move(data), size));
    }
    archive_.reset();
  }

  Napi::Value Result() override {
    Napi::Env env = Env();
    auto records = Napi::Array::New(env, records_.size());
    for (size_t i = 0; i < records_.size(); ++i) {
      records.Set(static_cast<uint32_t>(i), TensorWrap::New(env, std::move(records_[i])));
    }
    return records;
  }

  void Release() override { archive_.reset(); }

 private:
  std::shared_ptr<Archive> archive_;
  std::vector<std::pair<std::string, uint64_t>> wanted_;
  std::vector<at::Tensor> records_;
};

// The archive a handle holds, which the handle gives up (each archive is read once, then closed).
std::shared_ptr<Archive> TakeArchive(const Napi::Value& handle) {
  auto archive = std::move(*handle.As<ArchiveHandle>().Data());
  if (!archive) throw std::logic_error("the archive was already read or closed");
  return archive;
}

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
  std::vector<at::Tensor> storages;
  for (const auto& t : TensorWrap::List(info[2], "storages")) storages.push_back(StorageBytes(t));
  return (new WriteWorker(env, std::move(path), std::move(bytes), std::move(storages)))->Start();
}

// readArchive(path) -> Promise<[pickle, [[record name, size], ...], archive]>
Napi::Value ReadArchive(const Napi::CallbackInfo& info) {
  return (new ReadWorker(info.Env(), info[0].As<Napi::String>()))->Start();
}

// readRecords(archive, names, nbytes) -> Promise<bytes[]>; the archive is closed after.
Napi::Value ReadRecords(const Napi::CallbackInfo& info) {
  const auto names = info[1].As<Napi::Array>();
  const auto nbytes = info[2].As<Napi::Array>();
  std::vector<std::pair<std::string, uint64_t>> wanted;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    wanted.emplace_back(names.Get(i).As<Napi::String>(),
                        static_cast<uint64_t>(nbytes.Get(i).As<Napi::Number>().Int64Value()));
  }
  return (new RecordsWorker(info.Env(), TakeArchive(info[0]), std::move(wanted)))->Start();
}

// closeArchive(archive): closes an archive whose records will not be read.
Napi::Value CloseArchive(const Napi::CallbackInfo& info) {
  TakeArchive(info[0]);
  return info.Env().Undefined();
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
  const auto dst = TensorWrap::List(info[0], "destinations");
  const auto src = TensorWrap::List(info[1], "sources");
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
  exports.Set("readRecords", Function<&ReadRecords>(env, "readRecords"));
  exports.Set("closeArchive", Function<&CloseArchive>(env, "closeArchive"));
  exports.Set("fromStorage", Function<&FromStorage>(env, "fromStorage"));
  exports.Set("copyTensors", Function<&CopyTensors>(env, "copyTensors"));
}

}  // namespace lt
