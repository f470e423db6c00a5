// Stateless functions over tensors: losses and in-place initialisers (torch::nn::functional, torch::nn::init).
#pragma once

#include <napi.h>
#include <torch/torch.h>

namespace lt {

struct CrossEntropySpec {
  at::Tensor weight;  // per-class weights, or undefined
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  torch::nn::CrossEntropyLossOptions::reduction_t reduction = torch::kMean;
};

CrossEntropySpec ParseCrossEntropy(const Napi::Object& options);
at::Tensor CrossEntropy(const at::Tensor& input, const at::Tensor& target, const CrossEntropySpec& spec);

void InitFunctional(Napi::Env env, Napi::Object exports);

}  // namespace lt
