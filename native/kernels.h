// Faster CPU paths for the layers where libtorch is slow on LeNet-sized tensors, as autograd functions. Each gives
// libtorch's result up to rounding (the same sums in another order; the fused sigmoid within 2 ulp) and is checked
// against libtorch's own kernels in test/kernels.test.ts, on libtorch 1.13 and 2.6, for every SIMD target the CPU
// runs. The direct loops are one source (kernels-simd.cc) compiled by Google Highway for AVX-512, AVX2 + FMA, SSE4,
// ARM64 NEON and a portable fallback, the best target chosen at run time (ATEN_CPU_CAPABILITY lowers it).
//  - Conv2d (stride 1, dilation 1, groups 1) with one input channel: direct forward and weight-gradient loops
//    (LeNet's conv1 forward on AVX-512: 2.3x oneDNN's speed, whose kernels are built for many channels; its weight
//    gradient 2.4x).
//  - Conv2d (stride 1, dilation 1, groups 1) with several input channels: the weight gradient computed as one
//    convolution with the batch as the channel dimension, where oneDNN is fast, instead of oneDNN's
//    backward-weights (conv2: 4.1 vs 6.9 us an example here).
//  - Conv2d's input gradient (stride 1, padding < kernel): a direct loop (conv2 on AVX-512: 1.5x oneDNN's speed).
//  - Conv2d followed by Sigmoid (in a Sequential): one autograd node, the sigmoid computed in the direct loop's
//    registers (conv1) or in place on the output.
//  - AvgPool2d with kernel == stride and no padding: a direct loop, 3-5x faster than libtorch's NCHW kernel.
//  - MaxPool2d (aten::max_pool2d_with_indices, float NCHW, dilation 1): a vector loop with PyTorch's exact indices,
//    registered as libtorch's CPU kernel of the operator in place of its own (ResNet's stem pool, one thread: ~73 ->
//    ~10 ms; GoogLeNet's 3x3 stride-1 pools on 12 x 12: ~42 -> ~6 ms).
// The convolution loops are also libtorch's CPU kernels of aten::convolution and aten::convolution_backward (for the
// shapes they serve; libtorch's own kernels for the rest), so a convolution reached by any road gets them. They serve
// convolutions of up to 8 input channels (LeNet's): wider ones (the Modern CNNs chapter's 64 and more) are faster in
// oneDNN's kernels, and go there whole.
#pragma once

#include <torch/torch.h>

#include <optional>

namespace lt {

// Registers the kernels that replace one of libtorch's own CPU kernels (max_pool2d_with_indices); once per process.
void RegisterKernels();

// Whether the fast paths may be used (tests and benchmarks turn them off to compare with libtorch's).
void SetFastKernels(bool enabled);

// How many times a direct loop has run in this process (tests check which road a call took).
int64_t DirectKernelCalls();

// conv2d(x, w, b, stride 1, padding, dilation 1, groups 1), or with `sigmoid` sigmoid(conv2d(...)) computed as one
// operation; std::nullopt when the fast path does not apply.
std::optional<at::Tensor> FastConv2d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                     at::IntArrayRef padding, bool sigmoid = false);

// avg_pool2d(x, kernel, stride = kernel); std::nullopt when the fast path does not apply.
std::optional<at::Tensor> FastAvgPool2d(const at::Tensor& x, at::IntArrayRef kernel);

}  // namespace lt
