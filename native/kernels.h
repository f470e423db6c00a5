// Faster CPU paths for the layers where libtorch is slow on LeNet-sized tensors, as autograd functions. Each gives
// libtorch's result up to rounding (the same sums in another order; the fused sigmoid within 2 ulp) and is checked
// against libtorch's own kernels in test/kernels.test.ts, on libtorch 1.13 and 2.6.
//  - Conv2d (stride 1, dilation 1, groups 1) with one input channel, on AVX-512 CPUs: direct forward and
//    weight-gradient loops (LeNet's conv1 forward: 2.3x oneDNN's speed, whose kernels are built for many channels;
//    its weight gradient 2.4x).
//  - Conv2d (stride 1, dilation 1, groups 1) with several input channels: the weight gradient computed as one
//    convolution with the batch as the channel dimension, where oneDNN is fast, instead of oneDNN's
//    backward-weights (conv2: 4.1 vs 6.9 us an example here).
//  - Conv2d's input gradient (stride 1, padding < kernel), on AVX-512 CPUs: a direct loop (conv2: 1.5x oneDNN's speed).
//  - Conv2d followed by Sigmoid (in a Sequential): one autograd node, the sigmoid computed in the direct loop's
//    registers (conv1) or in place on the output.
//  - AvgPool2d with kernel == stride and no padding: a direct loop, 3-5x faster than libtorch's NCHW kernel.
#pragma once

#include <torch/torch.h>

#include <optional>

namespace lt {

// Whether the fast paths may be used (tests and benchmarks turn them off to compare with libtorch's).
void SetFastKernels(bool enabled);

// conv2d(x, w, b, stride 1, padding, dilation 1, groups 1), or with `sigmoid` sigmoid(conv2d(...)) computed as one
// operation; std::nullopt when the fast path does not apply.
std::optional<at::Tensor> FastConv2d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                     at::IntArrayRef padding, bool sigmoid = false);

// avg_pool2d(x, kernel, stride = kernel); std::nullopt when the fast path does not apply.
std::optional<at::Tensor> FastAvgPool2d(const at::Tensor& x, at::IntArrayRef kernel);

}  // namespace lt
