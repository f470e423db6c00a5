#include "kernels.h"

#include <torch/csrc/jit/frontend/tracer.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace lt {

namespace {

std::atomic<bool> g_fast{true};

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool CpuFloat(const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat; }

// ---- conv2d with one input channel (LeNet's conv1), stride 1, direct ----
//
// oneDNN's kernels are built for many channels; with one input channel they reach ~50 GFLOP/s here. These loops
// keep a row of kOutBlock output channels (forward), or a kOutBlock x kTapBlock tile of weight-gradient partial
// sums (backward), in AVX-512 registers. LeNet's conv1, us an example at batch 256, one
// thread: forward 4.8 -> 2.1 (with the sigmoid 7.3 -> 2.9), weight gradient 4.0 -> 1.7 (oneDNN's backward-weights;
// the batch-as-channels convolution takes 7.5 here). Compiled for AVX-512 only; other CPUs take libtorch's kernels.

constexpr int64_t kLanes = 16;                // floats per AVX-512 register
constexpr int64_t kChunk = 2 * kLanes;        // output columns computed at once
constexpr int64_t kOutBlock = 6;              // output channels computed at once
using V16 = float __attribute__((vector_size(kLanes * sizeof(float))));

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}

// The first n (<= kLanes) lanes of v into dst: the end of a row that is not a whole vector wide.
inline void StoreLanes(const V16& v, int64_t n, float* dst) {
  float lanes[kLanes];
  __builtin_memcpy(lanes, &v, sizeof(V16));
  std::copy(lanes, lanes + n, dst);
}

// GCC 12's AVX-512 intrinsics read an "undefined" register on purpose (_mm512_undefined_ps): a false alarm.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// sigmoid(z) = 1 / (1 + e^-z), 16 lanes at once: e^x as Cephes' expf (x = n ln2 + r, |r| <= ln2 / 2, e^r by a
// degree-6 polynomial, then scaled by 2^n), within 2 ulp of libtorch's Sleef-based sigmoid.
__attribute__((target("avx512f"))) inline V16 Sigmoid16(V16 z) {
  const __m512 x = _mm512_max_ps(_mm512_min_ps(-(__m512)z, _mm512_set1_ps(88.3762626647949f)),
                                 _mm512_set1_ps(-88.3762626647949f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512 e = _mm512_scalef_ps(p, n);
  return (V16)_mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

// One image: out[o, i, j] = bias[o] + sum over (u, v) of w[o, u, v] * xpad[i + u, j + v] for output channels
// [o0, o0 + OB), where xpad is the zero-padded image, `pitch` floats a row, readable kChunk + kw - 1 columns past
// every chunk start; with Sig, sigmoid of that.
template <int OB, bool Sig>
__attribute__((target("avx512f"))) void ConvRows(const float* xpad, int64_t pitch, const float* w, const float* bias,
                                                 int64_t kh, int64_t kw, int64_t Ho, int64_t Wo, float* out) {
  const int64_t plane = Ho * Wo;
  for (int64_t i = 0; i < Ho; ++i) {
    for (int64_t c = 0; c < Wo; c += kChunk) {
      V16 acc[OB][2];
#pragma GCC unroll 8
      for (int ob = 0; ob < OB; ++ob) acc[ob][0] = acc[ob][1] = V16{} + bias[ob];
      for (int64_t u = 0; u < kh; ++u) {
        const float* row = xpad + (i + u) * pitch + c;
        for (int64_t v = 0; v < kw; ++v) {
          V16 r0, r1;
          __builtin_memcpy(&r0, row + v, sizeof(V16));
          __builtin_memcpy(&r1, row + v + kLanes, sizeof(V16));
#pragma GCC unroll 8
          for (int ob = 0; ob < OB; ++ob) {
            const float wv = w[(ob * kh + u) * kw + v];
            acc[ob][0] += wv * r0;
            acc[ob][1] += wv * r1;
          }
        }
      }
      const int64_t n = std::min(kChunk, Wo - c);
      if (Sig) {
#pragma GCC unroll 8
        for (int ob = 0; ob < OB; ++ob) {
          acc[ob][0] = Sigmoid16(acc[ob][0]);
          acc[ob][1] = Sigmoid16(acc[ob][1]);
        }
      }
      for (int ob = 0; ob < OB; ++ob) {
        float* row = out + ob * plane + i * Wo + c;
        StoreLanes(acc[ob][0], std::min(n, kLanes), row);
        if (n > kLanes) StoreLanes(acc[ob][1], n - kLanes, row + kLanes);
      }
    }
  }
}

// One image's contribution to the weight gradient, for output channels [0, OB) and TB kernel taps at once (the
// taps at offsets tap[0..TB) into the padded image): acc[o, t] (+)= sum over (i, j) of g[o, i, j] * xpad[(i, j) +
// tap[t]], as 16 lane-wise partial sums per (o, t). A GEMM of g [OB, positions] by the image's tap rows [positions,
// TB] with an OB x TB register tile: each 16 positions cost OB + TB loads for OB x TB FMAs. gpad holds g's rows with
// `pitch` floats each, zero past Wo, so that the lanes past a row add nothing.
template <int OB, int TB>
__attribute__((target("avx512f"))) void WeightGradTaps(const float* xpad, int64_t xpitch, const int64_t* tap,
                                                       const float* gpad, int64_t pitch, int64_t Ho, int64_t vectors,
                                                       float* acc, int64_t taps) {
  const int64_t plane = Ho * pitch;
  V16 a[OB][TB];
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ++ob) {
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t) __builtin_memcpy(&a[ob][t], acc + (ob * taps + t) * kLanes, sizeof(V16));
  }
  for (int64_t i = 0; i < Ho; ++i) {
    for (int64_t c = 0; c < vectors; ++c) {
      const float* xrow = xpad + i * xpitch + c * kLanes;
      V16 xr[TB];
#pragma GCC unroll 4
      for (int t = 0; t < TB; ++t) __builtin_memcpy(&xr[t], xrow + tap[t], sizeof(V16));
      const float* grow = gpad + i * pitch + c * kLanes;
#pragma GCC unroll 8
      for (int ob = 0; ob < OB; ++ob) {
        V16 gv;
        __builtin_memcpy(&gv, grow + ob * plane, sizeof(V16));
#pragma GCC unroll 4
        for (int t = 0; t < TB; ++t) a[ob][t] += gv * xr[t];
      }
    }
  }
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ++ob) {
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t) __builtin_memcpy(acc + (ob * taps + t) * kLanes, &a[ob][t], sizeof(V16));
  }
}

// All taps of one image for output channels [0, OB): groups of kTapBlock taps, then single ones.
constexpr int64_t kTapBlock = 4;
template <int OB>
void WeightGradImage(const float* xpad, int64_t xpitch, const std::vector<int64_t>& tap, const float* gpad,
                     int64_t pitch, int64_t Ho, int64_t vectors, float* acc) {
  const int64_t taps = static_cast<int64_t>(tap.size());
  int64_t t0 = 0;
  for (; t0 + kTapBlock <= taps; t0 += kTapBlock) {
    WeightGradTaps<OB, kTapBlock>(xpad, xpitch, tap.data() + t0, gpad, pitch, Ho, vectors, acc + t0 * kLanes, taps);
  }
  for (; t0 < taps; ++t0) {
    WeightGradTaps<OB, 1>(xpad, xpitch, tap.data() + t0, gpad, pitch, Ho, vectors, acc + t0 * kLanes, taps);
  }
}

// The zero-padded copy of one single-channel image that both directions read: rows of `pitch` floats, readable
// kChunk + kw - 1 columns past every chunk start. Only the interior is written: the border stays zero.
struct PaddedImage {
  int64_t H, W, ph, pw, pitch;
  std::vector<float> buffer;
  PaddedImage(int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t kh, int64_t kw, int64_t chunks)
      : H(H), W(W), ph(ph), pw(pw), pitch(chunks * kChunk + kw - 1),
        buffer(static_cast<size_t>((H + 2 * ph - kh + 1 + kh - 1) * pitch + kLanes), 0.0f) {}
  const float* Fill(const float* img) {
    for (int64_t r = 0; r < H; ++r) std::copy(img + r * W, img + (r + 1) * W, buffer.data() + (r + ph) * pitch + pw);
    return buffer.data();
  }
};

// conv2d's weight gradient for one input channel: [O, 1, kh, kw].
at::Tensor WeightGradOneChannel(const at::Tensor& input, const at::Tensor& grad, int64_t kh, int64_t kw, int64_t ph,
                                int64_t pw) {
  const auto x = input.contiguous();
  const auto g = grad.contiguous();
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), O = g.size(1), Ho = g.size(2), Wo = g.size(3);
  const int64_t chunks = (Wo + kChunk - 1) / kChunk, vectors = (Wo + kLanes - 1) / kLanes, pitch = vectors * kLanes;
  const int64_t taps = kh * kw;
  const float* xp = x.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  // Per task: lane-wise partial sums, kLanes lanes per weight; summed when all images are done.
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), B));
  std::vector<std::vector<float>> partial(tasks, std::vector<float>(static_cast<size_t>(O * taps * kLanes), 0.0f));
  at::parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      PaddedImage image(H, W, ph, pw, kh, kw, chunks);
      std::vector<int64_t> tap;  // each tap's offset into the padded image
      for (int64_t u = 0; u < kh; ++u) {
        for (int64_t v = 0; v < kw; ++v) tap.push_back(u * image.pitch + v);
      }
      std::vector<float> gpad(static_cast<size_t>(O * Ho * pitch), 0.0f);
      float* acc = partial[t].data();
      for (int64_t b = t * B / tasks; b < (t + 1) * B / tasks; ++b) {
        const float* xpad = image.Fill(xp + b * H * W);
        const float* gi = gp + b * O * Ho * Wo;
        for (int64_t r = 0; r < O * Ho; ++r) std::copy(gi + r * Wo, gi + (r + 1) * Wo, gpad.data() + r * pitch);
        int64_t o0 = 0;
        for (; o0 + kOutBlock <= O; o0 += kOutBlock) {
          WeightGradImage<kOutBlock>(xpad, image.pitch, tap, gpad.data() + o0 * Ho * pitch, pitch, Ho, vectors,
                                     acc + o0 * taps * kLanes);
        }
        for (; o0 < O; ++o0) {
          WeightGradImage<1>(xpad, image.pitch, tap, gpad.data() + o0 * Ho * pitch, pitch, Ho, vectors,
                             acc + o0 * taps * kLanes);
        }
      }
    }
  });
  auto gw = at::empty({O, 1, kh, kw}, x.options());
  float* out = gw.data_ptr<float>();
  for (int64_t k = 0; k < O * taps; ++k) {
    double sum = 0;
    for (const auto& p : partial) {
      for (int64_t lane = 0; lane < kLanes; ++lane) sum += p[k * kLanes + lane];
    }
    out[k] = static_cast<float>(sum);
  }
  return gw;
}

template <bool Sig>
at::Tensor ConvOneChannel(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias_, int64_t ph,
                          int64_t pw) {
  const auto x = input.contiguous();
  const auto w = weight.contiguous();
  const auto bias = bias_.contiguous();
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), O = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t Ho = H + 2 * ph - kh + 1, Wo = W + 2 * pw - kw + 1;
  auto out = at::empty({B, O, Ho, Wo}, x.options());
  const int64_t chunks = (Wo + kChunk - 1) / kChunk;
  const float* xp = x.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = bias.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    PaddedImage image(H, W, ph, pw, kh, kw, chunks);
    for (int64_t b = begin; b < end; ++b) {
      const float* pad = image.Fill(xp + b * H * W);
      float* o = op + b * O * Ho * Wo;
      int64_t o0 = 0;
      for (; o0 + kOutBlock <= O; o0 += kOutBlock) {
        ConvRows<kOutBlock, Sig>(pad, image.pitch, wp + o0 * kh * kw, bp + o0, kh, kw, Ho, Wo, o + o0 * Ho * Wo);
      }
      for (; o0 < O; ++o0) {
        ConvRows<1, Sig>(pad, image.pitch, wp + o0 * kh * kw, bp + o0, kh, kw, Ho, Wo, o + o0 * Ho * Wo);
      }
    }
  });
  return out;
}

// ---- a stride-1 convolution's input gradient, direct (LeNet's conv2: 3.9 us an example, oneDNN's 6.1) ----
//
// gx[c, y, x] = sum over (o, u, v) of gpad[o, y + u, x + v] * wf[c, o, u, v]: a "full" correlation of g, zero-padded
// by (kh - 1 - ph, kw - 1 - pw), with the flipped kernel wf[c, o, u, v] = w[o, c, kh - 1 - u, kw - 1 - v]. Two output
// rows of kOutBlock channels at a time, 16 columns to a register: each loaded g row serves 2 x kOutBlock FMAs.
template <int CB>
__attribute__((target("avx512f"))) void DataGradRows(const float* gpad, int64_t pitch, int64_t plane, int64_t O,
                                                     const float* wf, int64_t wf_c, int64_t kh, int64_t kw, int64_t H,
                                                     int64_t W, int64_t qh, int64_t Ho, float* out) {
  for (int64_t y = 0; y < H; y += 2) {
    // Only the taps that reach a row of g for one of the two rows (gpad's rows [qh, qh + Ho)): at the borders, up
    // to 4 of 5 taps would only read padding (LeNet's conv2: 50 of 70 row-taps are real).
    const int64_t u_begin = std::max<int64_t>(0, qh - y - 1), u_end = std::min(kh, qh + Ho - y);
    for (int64_t c = 0; c < W; c += kLanes) {
      V16 acc[CB][2];
#pragma GCC unroll 8
      for (int cb = 0; cb < CB; ++cb) acc[cb][0] = acc[cb][1] = V16{};
      for (int64_t o = 0; o < O; ++o) {
        for (int64_t u = u_begin; u < u_end; ++u) {
          const float* row = gpad + o * plane + (y + u) * pitch + c;
          const float* w = wf + (o * kh + u) * kw;
          for (int64_t v = 0; v < kw; ++v) {
            V16 r0, r1;
            __builtin_memcpy(&r0, row + v, sizeof(V16));
            __builtin_memcpy(&r1, row + pitch + v, sizeof(V16));
#pragma GCC unroll 8
            for (int cb = 0; cb < CB; ++cb) {
              const float wv = w[cb * wf_c + v];
              acc[cb][0] += wv * r0;
              acc[cb][1] += wv * r1;
            }
          }
        }
      }
      const int64_t n = std::min(kLanes, W - c);
      for (int cb = 0; cb < CB; ++cb) {
        for (int64_t r = 0; r < 2 && y + r < H; ++r) {
          StoreLanes(acc[cb][r], n, out + cb * H * W + (y + r) * W + c);
        }
      }
    }
  }
}

// The input gradient [B, C, H, W] of conv2d(x, w, stride 1, padding (ph, pw)) given g = dL/d(output).
at::Tensor DataGrad(const at::Tensor& grad, const at::Tensor& weight, int64_t H, int64_t W, int64_t ph, int64_t pw) {
  const auto g = grad.contiguous();
  const int64_t B = g.size(0), O = g.size(1), Ho = g.size(2), Wo = g.size(3);
  const int64_t C = weight.size(1), kh = weight.size(2), kw = weight.size(3), qh = kh - 1 - ph, qw = kw - 1 - pw;
  const auto wf = weight.flip({2, 3}).transpose(0, 1).contiguous();  // [C, O, kh, kw]
  auto gx = at::empty({B, C, H, W}, g.options());
  const int64_t chunks = (W + kLanes - 1) / kLanes;
  const int64_t pitch = chunks * kLanes + kw - 1, rows = H + kh;  // room for the second row of a last odd row
  const int64_t plane = rows * pitch;
  const float* gp = g.data_ptr<float>();
  const float* wp = wf.data_ptr<float>();
  float* op = gx.data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> gpad(static_cast<size_t>(O * plane + kLanes), 0.0f);  // only the interior is ever written
    for (int64_t b = begin; b < end; ++b) {
      const float* gi = gp + b * O * Ho * Wo;
      for (int64_t o = 0; o < O; ++o) {
        for (int64_t i = 0; i < Ho; ++i) {
          const float* src = gi + (o * Ho + i) * Wo;
          std::copy(src, src + Wo, gpad.data() + o * plane + (i + qh) * pitch + qw);
        }
      }
      float* out = op + b * C * H * W;
      int64_t c0 = 0;
      for (; c0 + kOutBlock <= C; c0 += kOutBlock) {
        DataGradRows<kOutBlock>(gpad.data(), pitch, plane, O, wp + c0 * O * kh * kw, O * kh * kw, kh, kw, H, W, qh,
                                Ho, out + c0 * H * W);
      }
      for (; c0 < C; ++c0) {
        DataGradRows<1>(gpad.data(), pitch, plane, O, wp + c0 * O * kh * kw, O * kh * kw, kh, kw, H, W, qh, Ho,
                        out + c0 * H * W);
      }
    }
  });
  return gx;
}

#pragma GCC diagnostic pop

// Whether ConvOneChannel computes this convolution: one input channel, padding no larger than the kernel.
bool OneChannel(const at::Tensor& x, const at::Tensor& w, at::IntArrayRef padding) {
  return HasAvx512() && x.size(1) == 1 && padding[0] < w.size(2) && padding[1] < w.size(3) &&
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
    if (ctx->needs_input_grad(0) && HasAvx512() && padding[0] < w.size(2) && padding[1] < w.size(3)) {
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

}  // namespace

void SetFastKernels(bool enabled) { g_fast = enabled; }

// Not while torch.jit.trace records this thread's operations: the tracer sees only ATen operators, and a fast
// path's result would enter the graph as a constant.
static bool Enabled() { return g_fast && !torch::jit::tracer::isTracing(); }

std::optional<at::Tensor> FastConv2d(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                     at::IntArrayRef padding, bool sigmoid) {
  // (Without a bias, libtorch's own path: an autograd Function cannot take an undefined tensor as an input.)
  if (!Enabled() || !CpuFloat(x) || !CpuFloat(w) || x.dim() != 4 || x.size(0) == 0 || x.size(1) != w.size(1) ||
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
