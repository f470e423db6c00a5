// Batches assembled natively from a data set held in memory (on the CPU or a CUDA device): one gather per batch,
// then the transform (uint8 -> float, optional bilinear resize, scaling), never per example in JS.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <optional>
#include <utility>

namespace lt {

// A whole data set and how to turn its stored examples into model inputs.
struct BatchSource {
  at::Tensor x;                         // [N, ...] examples (uint8 images, or any tensor)
  at::Tensor y;                         // [N] labels
  std::optional<double> scale;          // multiply X by this after conversion to float (1/255: ToTensor)
  std::optional<std::pair<int64_t, int64_t>> resize;  // bilinear resize of [N, C, H, W] images to (h, w)

  int64_t size() const { return x.size(0); }
};

// Reads {x, y, scale, resize} as lib/ passes it (validated there).
BatchSource ParseSource(const Napi::Value& value);

// Examples [start, end) in `order` (a permutation of 0..N-1, int64) or in stored order when order is undefined.
std::pair<at::Tensor, at::Tensor> MakeBatch(const BatchSource& source, const at::Tensor& order, int64_t start,
                                            int64_t end);

void InitData(Napi::Env env, Napi::Object exports);

}  // namespace lt
