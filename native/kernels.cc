#include "kernels.h"

#include <algorithm>
#include <atomic>

namespace lt {

namespace {

std::atomic<bool> g_fast{true};

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool CpuFloat(const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat; }

at::Tensor Conv(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, at::IntArrayRef padding) {
  return at::conv2d(x, w, b, /*stride=*/at::IntArrayRef({1, 1}), padding);
}

struct Conv2dFunction : torch::autograd::Function<Conv2dFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                            at::IntArrayRef padding) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["padding"] = padding.vec();
    ctx->saved_data["bias"] = b.defined();
    torch::NoGradGuard no_grad;
    return Conv(x, w, b, padding);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const auto g = grads[0].contiguous();
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) {
      gx = std::get<0>(at::convolution_backward(g, x, w, c10::nullopt, /*stride=*/{1, 1}, padding, /*dilation=*/{1, 1},
                                                /*transposed=*/false, /*output_padding=*/{0, 0}, /*groups=*/1,
                                                {true, false, false}));
    }
    if (ctx->needs_input_grad(1)) {
      // dW[o, c] = sum over b of x[b, c] (*) g[b, o]: a convolution of x^T [C, B, H, W] by g^T [O, B, Ho, Wo].
      const auto xt = x.size(1) == 1 ? x.reshape({1, x.size(0), x.size(2), x.size(3)}) : x.transpose(0, 1).contiguous();
      gw = Conv(xt, g.transpose(0, 1).contiguous(), at::Tensor(), padding).transpose(0, 1).contiguous();
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) gb = g.sum({0, 2, 3});
    return {gx, gw, gb, at::Tensor()};
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

}  // namespace

void SetFastKernels(bool enabled) { g_fast = enabled; }

std::optional<at::Tensor> FastConv2d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                     at::IntArrayRef padding) {
  // Worth it only when the weight gradient will be computed.
  if (!g_fast || !at::GradMode::is_enabled() || !w.requires_grad() || !CpuFloat(x) || !CpuFloat(w) || x.dim() != 4 ||
      x.size(0) == 0 || x.size(1) != w.size(1) || !b.defined()) {
    // (Without a bias, libtorch's own path: an autograd Function cannot take an undefined tensor as an input.)
    return std::nullopt;
  }
  return Conv2dFunction::apply(x, w, b, padding);
}

std::optional<at::Tensor> FastAvgPool2d(const at::Tensor& x, at::IntArrayRef kernel) {
  if (!g_fast || !CpuFloat(x) || x.dim() != 4 || x.size(2) < kernel[0] || x.size(3) < kernel[1]) return std::nullopt;
  return AvgPoolFunction::apply(x, kernel[0], kernel[1]);
}

}  // namespace lt
