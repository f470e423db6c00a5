#include "kernels.h"

#include "kernels-simd.h"

#include <ATen/ops/convolution_backward_native.h>
#include <ATen/ops/convolution_native.h>
#include <ATen/ops/max_pool2d_with_indices.h>
#include <ATen/native/Pool.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace lt {

namespace {

std::atomic<bool> g_fast{true};

// Whether the direct loops may run: not while torch.jit.trace records this thread's operations, which it does at the
// ATen operators it sees (aten::_convolution, never aten::convolution, which the tracer leaves unrecorded for the
// _convolution call inside it): a result computed past them would enter the graph as a constant.
bool Enabled() { return g_fast && !torch::jit::tracer::isTracing(); }
// The convolution loops, also only on the SIMD targets where they beat libtorch's kernels (simd::Wins()).
bool ConvEnabled() { return Enabled() && simd::Wins(); }
std::atomic<int64_t> g_direct_calls{0};  // how many times a direct loop ran (tests: which road a call took)

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool CpuFloat(const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat; }

// ---- the direct loops (kernels-simd.cc: one source, compiled for every SIMD target, chosen at run time) ----
//
// oneDNN's kernels are built for many channels; with one input channel they reach ~50 GFLOP/s here. The direct loops
// keep a row of output channels (forward), or an output-channel x kernel-tap tile of weight-gradient partial sums
// (backward), in vector registers. LeNet's conv1, us an example at batch 256, one thread, AVX-512: forward
// 4.8 -> 2.1 (with the sigmoid 7.3 -> 2.9), weight gradient 4.0 -> 1.7 (oneDNN's backward-weights; the
// batch-as-channels convolution takes 7.5 here). Here: split over the batch for at::parallel_for.

// conv2d of a single-channel batch x by w + b, stride 1, padding smaller than the kernel; with Sig, sigmoid of it.
template <bool Sig>
at::Tensor ConvOneChannel(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias_, int64_t ph,
                          int64_t pw) {
  ++g_direct_calls;
  const auto x = input.contiguous();
  const auto w = weight.contiguous();
  const auto bias = bias_.contiguous();
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), O = w.size(0), kh = w.size(2), kw = w.size(3);
  auto out = at::empty({B, O, H + 2 * ph - kh + 1, W + 2 * pw - kw + 1}, x.options());
  const float* xp = x.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = bias.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    simd::ConvOneChannel(xp, begin, end, H, W, wp, bp, O, kh, kw, ph, pw, Sig, op);
  });
  return out;
}

// conv2d's weight gradient for one input channel: [O, 1, kh, kw]. Each task sums its images' contributions; the
// tasks' sums are added in double at the end.
at::Tensor WeightGradOneChannel(const at::Tensor& input, const at::Tensor& grad, int64_t kh, int64_t kw, int64_t ph,
                                int64_t pw) {
  ++g_direct_calls;
  const auto x = input.contiguous();
  const auto g = grad.contiguous();
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), O = g.size(1), taps = kh * kw;
  const float* xp = x.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), B));
  std::vector<std::vector<double>> partial(tasks, std::vector<double>(static_cast<size_t>(O * taps), 0.0));
  at::parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      simd::WeightGradOneChannel(xp, gp, t * B / tasks, (t + 1) * B / tasks, H, W, O, kh, kw, ph, pw,
                                 partial[t].data());
    }
  });
  auto gw = at::empty({O, 1, kh, kw}, x.options());
  float* out = gw.data_ptr<float>();
  for (int64_t k = 0; k < O * taps; ++k) {
    double sum = 0;
    for (const auto& p : partial) sum += p[k];
    out[k] = static_cast<float>(sum);
  }
  return gw;
}

// The input gradient [B, C, H, W] of conv2d(x, w, stride 1, padding (ph, pw)) given g = dL/d(output), direct
// (LeNet's conv2 on AVX-512: 3.9 us an example, oneDNN's 6.1).
at::Tensor DataGrad(const at::Tensor& grad, const at::Tensor& weight, int64_t H, int64_t W, int64_t ph, int64_t pw) {
  ++g_direct_calls;
  const auto g = grad.contiguous();
  const int64_t B = g.size(0), O = g.size(1), Ho = g.size(2), Wo = g.size(3);
  const int64_t C = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  const auto wf = weight.flip({2, 3}).transpose(0, 1).contiguous();  // [C, O, kh, kw]
  auto gx = at::empty({B, C, H, W}, g.options());
  const float* gp = g.data_ptr<float>();
  const float* wp = wf.data_ptr<float>();
  float* op = gx.data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    simd::DataGrad(gp, begin, end, O, Ho, Wo, wp, C, kh, kw, H, W, ph, pw, op);
  });
  return gx;
}

// Whether ConvOneChannel computes this convolution: one input channel, padding no larger than the kernel.
// The most input channels for which the direct loops of several channels (the input gradient, the batch-as-channels
// weight gradient) beat oneDNN's kernels: LeNet's conv2 (6 channels) gains 1.03-1.10x, 16 channels already lose
// (0.56x), and 64 (the chapter's ResNet and GoogLeNet) 0.69x (us per forward + backward, one thread, this machine).
// Wider convolutions are left to libtorch's kernels whole.
constexpr int64_t kMaxDirectChannels = 8;

bool OneChannel(const at::Tensor& x, const at::Tensor& w, at::IntArrayRef padding) {
  return x.size(1) == 1 && padding[0] < w.size(2) && padding[1] < w.size(3) &&
         x.size(2) + 2 * padding[0] >= w.size(2) && x.size(3) + 2 * padding[1] >= w.size(3);
}

// conv2d(x, w, b, stride 1, padding), or sigmoid of it.
at::Tensor Conv(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, at::IntArrayRef padding, bool sigmoid) {
  if (OneChannel(x, w, padding)) {
    return sigmoid ? ConvOneChannel<true>(x, w, b, padding[0], padding[1])
                   : ConvOneChannel<false>(x, w, b, padding[0], padding[1]);
  }
  auto out = at::conv2d(x, w, b, /*stride=*/at::IntArrayRef({1, 1}), padding);
  return sigmoid ? out.sigmoid_() : out;
}

// conv2d, or sigmoid(conv2d) as one autograd node (a Conv2d followed by a Sigmoid in a Sequential: one pass over
// the output instead of two, and one node less).
struct Conv2dFunction : torch::autograd::Function<Conv2dFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                            at::IntArrayRef padding, bool sigmoid) {
    ctx->saved_data["padding"] = padding.vec();
    ctx->saved_data["bias"] = b.defined();
    ctx->saved_data["sigmoid"] = sigmoid;
    at::Tensor out;
    {
      torch::NoGradGuard no_grad;
      out = Conv(x, w, b, padding, sigmoid);
    }
    // The sigmoid's backward needs its output: saved as an output of this node, so autograd keeps no second copy.
    ctx->save_for_backward(sigmoid ? variable_list{x, w, out} : variable_list{x, w});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto padding = ctx->saved_data["padding"].toIntVector();
    // Through the sigmoid first: dL/dz = dL/ds * s * (1 - s).
    const auto g = ctx->saved_data["sigmoid"].toBool() ? at::sigmoid_backward(grads[0], saved[2]).contiguous()
                                                       : grads[0].contiguous();
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0) && padding[0] < w.size(2) && padding[1] < w.size(3)) {
      gx = DataGrad(g, w, x.size(2), x.size(3), padding[0], padding[1]);
    } else if (ctx->needs_input_grad(0)) {
      gx = std::get<0>(at::convolution_backward(g, x, w, c10::nullopt, /*stride=*/{1, 1}, padding, /*dilation=*/{1, 1},
                                                /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1,
                                                {true, false, false}));
    }
    if (ctx->needs_input_grad(1) && OneChannel(x, w, padding)) {
      gw = WeightGradOneChannel(x, g, w.size(2), w.size(3), padding[0], padding[1]);
    } else if (ctx->needs_input_grad(1) && x.size(1) == 1) {
      // One input channel: oneDNN's backward-weights is the faster here (conv1: 4.0 vs 7.5 us an example).
      gw = std::get<1>(at::convolution_backward(g, x, w, c10::nullopt, /*stride=*/{1, 1}, padding, /*dilation=*/{1, 1},
                                                /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1,
                                                {false, true, false}));
    } else if (ctx->needs_input_grad(1)) {
      // dW[o, c] = sum over b of x[b, c] (*) g[b, o]: a convolution of x^T [C, B, H, W] by g^T [O, B, Ho, Wo], where
      // oneDNN is faster than its backward-weights for several channels (conv2: 4.1 vs 6.9 us an example).
      gw = at::conv2d(x.transpose(0, 1).contiguous(), g.transpose(0, 1).contiguous(), at::Tensor(), /*stride=*/{1, 1},
                      padding).transpose(0, 1).contiguous();
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) gb = g.sum({0, 2, 3});
    return {gx, gw, gb, at::Tensor(), at::Tensor()};
  }
};

// Mean over non-overlapping kh x kw windows of an NCHW float tensor (rows and columns past the last full window
// are ignored, as libtorch does).
at::Tensor PoolForward(const at::Tensor& input, int64_t kh, int64_t kw) {
  const auto x = input.contiguous();
  const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), Ho = H / kh, Wo = W / kw;
  auto out = at::empty({x.size(0), x.size(1), Ho, Wo}, x.options());
  const float* in = x.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const float scale = 1.0f / static_cast<float>(kh * kw);
  at::parallel_for(0, planes, 16, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* plane = in + p * H * W;
      float* out_plane = o + p * Ho * Wo;
      for (int64_t i = 0; i < Ho; ++i) {
        float* row = out_plane + i * Wo;
        if (kh == 2 && kw == 2) {
          const float* r0 = plane + 2 * i * W;
          const float* r1 = r0 + W;
          for (int64_t j = 0; j < Wo; ++j) row[j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) * scale;
          continue;
        }
        for (int64_t j = 0; j < Wo; ++j) row[j] = 0;
        for (int64_t u = 0; u < kh; ++u) {
          const float* r = plane + (i * kh + u) * W;
          for (int64_t j = 0; j < Wo; ++j) {
            float s = 0;
            for (int64_t v = 0; v < kw; ++v) s += r[j * kw + v];
            row[j] += s;
          }
        }
        for (int64_t j = 0; j < Wo; ++j) row[j] *= scale;
      }
    }
  });
  return out;
}

at::Tensor PoolBackward(const at::Tensor& grad, at::IntArrayRef input_shape, int64_t kh, int64_t kw) {
  const auto g = grad.contiguous();
  auto gi = at::empty(input_shape, g.options());
  const int64_t planes = input_shape[0] * input_shape[1], H = input_shape[2], W = input_shape[3];
  const int64_t Ho = H / kh, Wo = W / kw;
  const float* gp = g.data_ptr<float>();
  float* ip = gi.data_ptr<float>();
  const float scale = 1.0f / static_cast<float>(kh * kw);
  at::parallel_for(0, planes, 16, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* g_plane = gp + p * Ho * Wo;
      float* i_plane = ip + p * H * W;
      if (kh == 2 && kw == 2) {
        // Each gradient value spreads over its 2x2 window; rows and columns past the last window get zero.
        for (int64_t i = 0; i < Ho; ++i) {
          const float* g_row = g_plane + i * Wo;
          float* r0 = i_plane + 2 * i * W;
          float* r1 = r0 + W;
          for (int64_t jo = 0; jo < Wo; ++jo) {
            const float v = g_row[jo] * scale;
            r0[2 * jo] = r0[2 * jo + 1] = r1[2 * jo] = r1[2 * jo + 1] = v;
          }
          for (int64_t j = 2 * Wo; j < W; ++j) r0[j] = r1[j] = 0;
        }
        for (int64_t i = 2 * Ho; i < H; ++i) std::fill(i_plane + i * W, i_plane + (i + 1) * W, 0.0f);
        continue;
      }
      for (int64_t i = 0; i < H; ++i) {
        float* row = i_plane + i * W;
        int64_t j = 0;
        if (i < Ho * kh) {
          const float* g_row = g_plane + (i / kh) * Wo;
          for (int64_t jo = 0; jo < Wo; ++jo) {
            const float v = g_row[jo] * scale;
            for (int64_t q = 0; q < kw; ++q) row[jo * kw + q] = v;
          }
          j = Wo * kw;
        }
        for (; j < W; ++j) row[j] = 0;
      }
    }
  });
  return gi;
}

struct AvgPoolFunction : torch::autograd::Function<AvgPoolFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t kh, int64_t kw) {
    ctx->saved_data["shape"] = x.sizes().vec();
    ctx->saved_data["kh"] = kh;
    ctx->saved_data["kw"] = kw;
    return PoolForward(x, kh, kw);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {PoolBackward(grads[0], ctx->saved_data["shape"].toIntVector(), ctx->saved_data["kh"].toInt(),
                         ctx->saved_data["kw"].toInt()),
            at::Tensor(), at::Tensor()};
  }
};

// ---- the direct loops as libtorch's CPU kernels of aten::convolution and aten::convolution_backward ----
//
// So that every road to a convolution finds them, not only the Conv2d module's (FastConv2d): a Conv2d without a
// bias, a functional or generic operator call, TorchScript. Registered for the CPU dispatch key, where libtorch 1.13
// and 2.x have only their CompositeExplicitAutograd kernels, which stay the fallback for every other shape; autograd
// is libtorch's own (its ConvolutionBackward0 node calls aten::convolution_backward, which lands here too).

// A plain 2-d float convolution on the CPU: stride 1, dilation 1, one group, not transposed, padding < kernel.
bool Plain2d(const at::Tensor& input, const at::Tensor& weight, at::IntArrayRef stride, at::IntArrayRef padding,
             at::IntArrayRef dilation, bool transposed, int64_t groups) {
  const auto ones = [](at::IntArrayRef a) { return a.size() == 2 && a[0] == 1 && a[1] == 1; };
  return ConvEnabled() && CpuFloat(input) && CpuFloat(weight) && input.dim() == 4 && weight.dim() == 4 && !transposed &&
         input.size(1) <= kMaxDirectChannels &&
         groups == 1 && ones(stride) && ones(dilation) && padding.size() == 2 && padding[0] < weight.size(2) &&
         padding[1] < weight.size(3) && input.size(0) > 0 && input.size(1) == weight.size(1);
}

at::Tensor ConvolutionCpu(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                          at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, bool transposed,
                          at::IntArrayRef output_padding, int64_t groups) {
  if (Plain2d(input, weight, stride, padding, dilation, transposed, groups) && OneChannel(input, weight, padding) &&
      (!bias || !bias->defined() || CpuFloat(*bias))) {
    const auto b = bias && bias->defined() ? *bias : at::zeros({weight.size(0)}, weight.options());
    return ConvOneChannel<false>(input, weight, b, padding[0], padding[1]);
  }
  return at::native::convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> ConvolutionBackwardCpu(
    const at::Tensor& grad, const at::Tensor& input, const at::Tensor& weight, at::OptionalIntArrayRef bias_sizes,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, bool transposed,
    at::IntArrayRef output_padding, int64_t groups, std::array<bool, 3> mask) {
  if (!Plain2d(input, weight, stride, padding, dilation, transposed, groups) || !CpuFloat(grad)) {
    return at::native::convolution_backward(grad, input, weight, bias_sizes, stride, padding, dilation, transposed,
                                            output_padding, groups, mask);
  }
  const auto g = grad.contiguous();
  at::Tensor gx, gw, gb;
  if (mask[0]) gx = DataGrad(g, weight, input.size(2), input.size(3), padding[0], padding[1]);
  if (mask[1] && OneChannel(input, weight, padding)) {
    gw = WeightGradOneChannel(input, g, weight.size(2), weight.size(3), padding[0], padding[1]);
  } else if (mask[1]) {
    gw = std::get<1>(at::native::convolution_backward(g, input, weight, bias_sizes, stride, padding, dilation,
                                                      transposed, output_padding, groups, {false, true, false}));
  }
  if (mask[2]) gb = g.sum({0, 2, 3});
  return {gx, gw, gb};
}

// ---- max_pool2d_with_indices: the vector loop as libtorch's CPU kernel (every road: nn.MaxPool2d, F.max_pool2d,
// traced nets, TorchScript) ----
//
// For contiguous float NCHW (or CHW) input with dilation 1, on the SIMD targets where the loops win (simd::Wins(); on
// the portable fallback this loop is ~1.5x slower than libtorch's kernel: test/bench/pool.js). Anything else
// (channels-last, whose libtorch kernel is already vectorized; other dtypes; dilation; bad arguments, whose errors
// are libtorch's) goes to libtorch's kernel through the out= variant, which this registration does not replace. The
// backward stays libtorch's: it reads the indices, which are PyTorch's exactly (see kernels-simd.cc). ResNet's stem
// pool, 32 x 64 x 48 x 48, one thread: ~65 ms in libtorch's kernel, ~9 here, out of a ~1,000 ms training step.

// A 1- or 2-element list (PyTorch's `int[2]` arguments take either) as (h, w); the fallbacks for an empty one (-1:
// an empty list is not taken).
bool Pair(at::IntArrayRef a, int64_t fallback_h, int64_t fallback_w, int64_t& h, int64_t& w) {
  if (a.empty()) {
    h = fallback_h;
    w = fallback_w;
    return true;
  }
  if (a.size() > 2) return false;
  h = a[0];
  w = a.size() == 2 ? a[1] : a[0];
  return true;
}

std::tuple<at::Tensor, at::Tensor> MaxPool2dWithIndicesCpu(const at::Tensor& self, at::IntArrayRef kernel_size,
                                                           at::IntArrayRef stride, at::IntArrayRef padding,
                                                           at::IntArrayRef dilation, bool ceil_mode) {
  const auto libtorch = [&]() -> std::tuple<at::Tensor, at::Tensor> {
    at::Tensor out = at::empty({0}, self.options());
    at::Tensor indices = at::empty({0}, self.options().dtype(at::kLong));
    at::max_pool2d_with_indices_out(out, indices, self, kernel_size, stride, padding, dilation, ceil_mode);
    return {out, indices};
  };
  int64_t kh = 0, kw = 0, sh = 0, sw = 0, ph = 0, pw = 0, dh = 0, dw = 0;
  if (!ConvEnabled() || !CpuFloat(self) || (self.dim() != 3 && self.dim() != 4) || !self.is_contiguous() ||
      self.numel() == 0 || !Pair(kernel_size, -1, -1, kh, kw) || !Pair(stride, kh, kw, sh, sw) ||
      !Pair(padding, -1, -1, ph, pw) || !Pair(dilation, -1, -1, dh, dw)) {
    return libtorch();
  }
  const int64_t H = self.size(-2), W = self.size(-1);
  // Kernels, strides and paddings past the input's size (legal, and pointless) are left to libtorch too: the loop's
  // scratch row grows with them, and its positions are 32-bit.
  if (dh != 1 || dw != 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || ph > kh / 2 || pw > kw / 2 ||
      kh > 2 * H + 1 || kw > 2 * W + 1 || sh > H + 2 * ph || sw > W + 2 * pw) {
    return libtorch();
  }
  const int64_t Ho = at::native::pooling_output_shape<int64_t>(H, kh, ph, sh, 1, ceil_mode);
  const int64_t Wo = at::native::pooling_output_shape<int64_t>(W, kw, pw, sw, 1, ceil_mode);
  constexpr int64_t k2G = int64_t{1} << 31;
  if (Ho < 1 || Wo < 1 || H * W >= k2G || (Wo + 64) * sw + kw + W + 2 * pw >= k2G) return libtorch();
  ++g_direct_calls;
  auto sizes = self.sizes().vec();
  sizes[sizes.size() - 2] = Ho;
  sizes[sizes.size() - 1] = Wo;
  at::Tensor out = at::empty(sizes, self.options());
  at::Tensor indices = at::empty(sizes, self.options().dtype(at::kLong));
  const int64_t planes = self.numel() / (H * W);
  const float* x = self.data_ptr<float>();
  float* o = out.data_ptr<float>();
  int64_t* oi = indices.data_ptr<int64_t>();
  // A grain of ~32k input elements a task.
  const int64_t grain = std::max<int64_t>(1, 32768 / (H * W));
  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    simd::MaxPoolPlanes(x, self.numel(), begin, end, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, o, oi);
  });
  return {out, indices};
}

// libtorch registers its own CPU kernel of aten::max_pool2d_with_indices (the convolutions above had none): replacing
// it makes libtorch warn once on stderr ("Overriding a previously registered kernel"), which says nothing to a user,
// so the registration runs at load under a handler that drops warnings. Never unregistered (the Library is leaked):
// the process keeps the kernel until it exits, as with a static registration, without depending on the order of
// static destructors at exit.
struct DropWarnings : c10::WarningHandler {
#if TORCH_VERSION_MAJOR >= 2
  void process(const c10::Warning&) override {}
#else
  void process(const c10::SourceLocation&, const std::string&, const bool) override {}
#endif
};
#if TORCH_VERSION_MAJOR >= 2
using WarningHandlerGuard = c10::WarningUtils::WarningHandlerGuard;
#else
using WarningHandlerGuard = c10::Warning::WarningHandlerGuard;
#endif

TORCH_LIBRARY_IMPL(aten, CPU, m) {
  m.impl("convolution", TORCH_FN(ConvolutionCpu));
  m.impl("convolution_backward", TORCH_FN(ConvolutionBackwardCpu));
}

}  // namespace

void RegisterKernels() {
  static const bool registered = [] {
    DropWarnings drop;
    WarningHandlerGuard guard(&drop);
    auto* library = new torch::Library(torch::Library::IMPL, "aten", c10::DispatchKey::CPU, __FILE__, __LINE__);
    library->impl("max_pool2d_with_indices", TORCH_FN(MaxPool2dWithIndicesCpu));
    return true;
  }();
  (void)registered;
}

void SetFastKernels(bool enabled) { g_fast = enabled; }

int64_t DirectKernelCalls() { return g_direct_calls; }

std::optional<at::Tensor> FastConv2d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                     at::IntArrayRef padding, bool sigmoid) {
  // (Without a bias, libtorch's own path: an autograd Function cannot take an undefined tensor as an input.)
  if (!ConvEnabled() || !CpuFloat(x) || !CpuFloat(w) || x.dim() != 4 || x.size(0) == 0 || x.size(1) != w.size(1) ||
      x.size(1) > kMaxDirectChannels ||
      !b.defined() || !CpuFloat(b)) {
    return std::nullopt;
  }
  const bool grad = at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || b.requires_grad());
  // Without autograd (evaluation), only the direct loop is faster than libtorch's.
  if (!grad) {
    return OneChannel(x, w, padding) ? std::optional<at::Tensor>(Conv(x, w, b, padding, sigmoid)) : std::nullopt;
  }
  // With it, the batch-as-channels weight gradient pays only when the weight gradient is computed.
  if (!w.requires_grad() && !OneChannel(x, w, padding)) return std::nullopt;
  return Conv2dFunction::apply(x, w, b, padding, sigmoid);
}

std::optional<at::Tensor> FastAvgPool2d(const at::Tensor& x, at::IntArrayRef kernel) {
  if (!Enabled() || !CpuFloat(x) || x.dim() != 4 || x.size(2) < kernel[0] || x.size(3) < kernel[1]) return std::nullopt;
  return AvgPoolFunction::apply(x, kernel[0], kernel[1]);
}

}  // namespace lt
