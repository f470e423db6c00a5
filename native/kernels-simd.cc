// The direct loops behind native/kernels.cc's fast paths (see kernels-simd.h), written once with Google Highway's
// portable vector ops and compiled by foreach_target.h for every SIMD target of the architecture; the best one this
// CPU has is chosen at run time (HWY_DYNAMIC_DISPATCH), or the one SetTarget() names.
//
// Why Highway: runtime dispatch over AVX-512 / AVX2 / SSE4 / NEON / SVE / a portable fallback from one source is what
// it is built for, with a test hook (SetSupportedTargetsForTest) that runs every target the CPU has; Debian packages
// it (libhwy-dev). xsimd picks one ISA at compile time (a dispatcher exists, but a build per ISA and its own
// detection are ours to write); libtorch's at::vec dispatches the same way only inside libtorch's own build (its
// DispatchStub and per-ISA compilation are not part of the installed headers' contract) and does not exist for NEON
// in libtorch 1.13's headers as a dispatched target.
//
// The register tiles are sized by the target's register count: 32 vector registers on AVX-512 and NEON, 16 on AVX2
// and SSE4. Every tile holds OB output channels x 2 vectors of output (forward), 2 rows x CB input channels (input
// gradient) or OB x TB (output channels x kernel taps) partial sums (weight gradient).

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels-simd.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels-simd.h"

HWY_BEFORE_NAMESPACE();
namespace lt::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// Vector registers of the target: 16 on x86 before AVX-512, 32 on AVX-512 and ARM64 (the fallback keeps its vectors
// in memory anyway).
constexpr int kRegisters = (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3) ? 16 : 32;
constexpr int kOutBlock = 6;                                // output channels a forward / input-gradient tile holds
constexpr int kGradOutBlock = kRegisters >= 32 ? 6 : 3;     // weight gradient: output channels x ...
constexpr int kTapBlock = 4;                                // ... kernel taps a tile holds (6 x 4 + 4 + 1 <= 32)

// The first n lanes of v into dst (n < Lanes: the end of a row that is not a whole vector wide), writing nothing past
// them. x86's BlendedStore is a masked store; elsewhere (NEON in Highway 1.0.3) it loads, blends and stores a whole
// vector, which would write past the end of the output and race with the thread writing the next lanes: there the
// lanes go through a buffer.
template <class DD>
HWY_INLINE void StoreLanes(DD d, hn::Vec<DD> v, int64_t n, hn::TFromD<DD>* dst) {
  if (n >= static_cast<int64_t>(hn::Lanes(d))) {
    hn::StoreU(v, d, dst);
    return;
  }
#if HWY_ARCH_X86
  hn::BlendedStore(v, hn::FirstN(d, static_cast<size_t>(n)), d, dst);
#else
  HWY_ALIGN hn::TFromD<DD> lanes[HWY_MAX_BYTES / sizeof(hn::TFromD<DD>)];
  hn::Store(v, d, lanes);
  std::copy(lanes, lanes + n, dst);
#endif
}

// sigmoid(z) = 1 / (1 + e^-z): e^x as Cephes' expf (x = n ln2 + r, |r| <= ln2 / 2, e^r by a degree-6 polynomial, then
// scaled by 2^n, in two exact halves since n reaches 128), within 2 ulp of libtorch's Sleef-based sigmoid.
HWY_INLINE V Sigmoid(D d, V z) {
  const V x = hn::Max(hn::Min(hn::Neg(z), hn::Set(d, 88.3762626647949f)), hn::Set(d, -88.3762626647949f));
  const V n = hn::Round(hn::Mul(x, hn::Set(d, 1.44269504088896341f)));
  V r = hn::NegMulAdd(n, hn::Set(d, 0.693359375f), x);
  r = hn::NegMulAdd(n, hn::Set(d, -2.12194440e-4f), r);
  V p = hn::Set(d, 1.9875691500e-4f);
  p = hn::MulAdd(p, r, hn::Set(d, 1.3981999507e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 8.3334519073e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.1665795894e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.6666665459e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 5.0000001201e-1f));
  p = hn::MulAdd(p, hn::Mul(r, r), hn::Add(r, hn::Set(d, 1.0f)));
  const hn::RebindToSigned<D> di;
  const auto ni = hn::ConvertTo(di, n);
  const auto half = hn::ShiftRight<1>(ni);
  const auto pow2 = [&](decltype(ni) k) { return hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(k, hn::Set(di, 127)))); };
  const V e = hn::Mul(hn::Mul(p, pow2(half)), pow2(hn::Sub(ni, half)));
  return hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
}

// ---- conv2d with one input channel (LeNet's conv1), stride 1 ----

// One image: out[o, i, j] = bias[o] + sum over (u, v) of w[o, u, v] * xpad[i + u, j + v] for output channels
// [o0, o0 + OB), where xpad is the zero-padded image, `pitch` floats a row, readable 2 vectors + kw - 1 columns past
// every chunk start; with Sig, sigmoid of that.
template <int OB, bool Sig>
void ConvRows(const float* xpad, int64_t pitch, const float* w, const float* bias, int64_t kh, int64_t kw, int64_t Ho,
              int64_t Wo, float* out) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t plane = Ho * Wo;
  for (int64_t i = 0; i < Ho; ++i) {
    for (int64_t c = 0; c < Wo; c += 2 * N) {
      V acc[OB][2];
      HWY_UNROLL(8)
      for (int ob = 0; ob < OB; ++ob) acc[ob][0] = acc[ob][1] = hn::Set(d, bias[ob]);
      for (int64_t u = 0; u < kh; ++u) {
        const float* row = xpad + (i + u) * pitch + c;
        for (int64_t v = 0; v < kw; ++v) {
          const V r0 = hn::LoadU(d, row + v);
          const V r1 = hn::LoadU(d, row + v + N);
          HWY_UNROLL(8)
          for (int ob = 0; ob < OB; ++ob) {
            const V wv = hn::Set(d, w[(ob * kh + u) * kw + v]);
            acc[ob][0] = hn::MulAdd(wv, r0, acc[ob][0]);
            acc[ob][1] = hn::MulAdd(wv, r1, acc[ob][1]);
          }
        }
      }
      const int64_t n = std::min(2 * N, Wo - c);
      for (int ob = 0; ob < OB; ++ob) {
        float* row = out + ob * plane + i * Wo + c;
        StoreLanes(d, Sig ? Sigmoid(d, acc[ob][0]) : acc[ob][0], std::min(n, N), row);
        if (n > N) StoreLanes(d, Sig ? Sigmoid(d, acc[ob][1]) : acc[ob][1], n - N, row + N);
      }
    }
  }
}

// The zero-padded copy of one single-channel image that both directions read: rows of `pitch` floats (whole chunks
// of `chunk` columns + kw - 1), and a vector of slack after the last. Only the interior is written: the border stays
// zero.
struct PaddedImage {
  int64_t H, W, ph, pw, pitch;
  std::vector<float> buffer;
  PaddedImage(int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t kh, int64_t kw, int64_t Wo, int64_t chunk)
      : H(H), W(W), ph(ph), pw(pw), pitch((Wo + chunk - 1) / chunk * chunk + kw - 1),
        buffer(static_cast<size_t>((H + 2 * ph) * pitch + chunk), 0.0f) {}
  const float* Fill(const float* img) {
    for (int64_t r = 0; r < H; ++r) std::copy(img + r * W, img + (r + 1) * W, buffer.data() + (r + ph) * pitch + pw);
    return buffer.data();
  }
};

void ConvOneChannelT(const float* x, int64_t b0, int64_t b1, int64_t H, int64_t W, const float* w, const float* bias,
                     int64_t O, int64_t kh, int64_t kw, int64_t ph, int64_t pw, bool sigmoid, float* out) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(D()));
  const int64_t Ho = H + 2 * ph - kh + 1, Wo = W + 2 * pw - kw + 1;
  PaddedImage image(H, W, ph, pw, kh, kw, Wo, 2 * N);
  for (int64_t b = b0; b < b1; ++b) {
    const float* pad = image.Fill(x + b * H * W);
    float* o = out + b * O * Ho * Wo;
    int64_t o0 = 0;
    for (; o0 + kOutBlock <= O; o0 += kOutBlock) {
      (sigmoid ? ConvRows<kOutBlock, true> : ConvRows<kOutBlock, false>)(pad, image.pitch, w + o0 * kh * kw,
                                                                         bias + o0, kh, kw, Ho, Wo, o + o0 * Ho * Wo);
    }
    for (; o0 < O; ++o0) {
      (sigmoid ? ConvRows<1, true> : ConvRows<1, false>)(pad, image.pitch, w + o0 * kh * kw, bias + o0, kh, kw, Ho,
                                                         Wo, o + o0 * Ho * Wo);
    }
  }
}

// One image's contribution to the weight gradient, for output channels [0, OB) and TB kernel taps at once (the taps
// at offsets tap[0..TB) into the padded image): acc[o, t] (+)= sum over (i, j) of g[o, i, j] * xpad[(i, j) + tap[t]],
// as N lane-wise partial sums per (o, t). A GEMM of g [OB, positions] by the image's tap rows [positions, TB] with an
// OB x TB register tile: each N positions cost OB + TB loads for OB x TB FMAs. gpad holds g's rows with `pitch` floats
// each, zero past Wo, so that the lanes past a row add nothing.
template <int OB, int TB>
void WeightGradTaps(const float* xpad, int64_t xpitch, const int64_t* tap, const float* gpad, int64_t pitch, int64_t Ho,
                    int64_t vectors, float* acc, int64_t taps) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t plane = Ho * pitch;
  V a[OB][TB];
  HWY_UNROLL(8)
  for (int ob = 0; ob < OB; ++ob) {
    HWY_UNROLL(4)
    for (int t = 0; t < TB; ++t) a[ob][t] = hn::LoadU(d, acc + (ob * taps + t) * N);
  }
  for (int64_t i = 0; i < Ho; ++i) {
    for (int64_t c = 0; c < vectors; ++c) {
      const float* xrow = xpad + i * xpitch + c * N;
      V xr[TB];
      HWY_UNROLL(4)
      for (int t = 0; t < TB; ++t) xr[t] = hn::LoadU(d, xrow + tap[t]);
      const float* grow = gpad + i * pitch + c * N;
      HWY_UNROLL(8)
      for (int ob = 0; ob < OB; ++ob) {
        const V gv = hn::LoadU(d, grow + ob * plane);
        HWY_UNROLL(4)
        for (int t = 0; t < TB; ++t) a[ob][t] = hn::MulAdd(gv, xr[t], a[ob][t]);
      }
    }
  }
  HWY_UNROLL(8)
  for (int ob = 0; ob < OB; ++ob) {
    HWY_UNROLL(4)
    for (int t = 0; t < TB; ++t) hn::StoreU(a[ob][t], d, acc + (ob * taps + t) * N);
  }
}

// All taps of one image for output channels [0, OB): groups of kTapBlock taps, then single ones.
template <int OB>
void WeightGradImage(const float* xpad, int64_t xpitch, const std::vector<int64_t>& tap, const float* gpad,
                     int64_t pitch, int64_t Ho, int64_t vectors, float* acc) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(D()));
  const int64_t taps = static_cast<int64_t>(tap.size());
  int64_t t0 = 0;
  for (; t0 + kTapBlock <= taps; t0 += kTapBlock) {
    WeightGradTaps<OB, kTapBlock>(xpad, xpitch, tap.data() + t0, gpad, pitch, Ho, vectors, acc + t0 * N, taps);
  }
  for (; t0 < taps; ++t0) {
    WeightGradTaps<OB, 1>(xpad, xpitch, tap.data() + t0, gpad, pitch, Ho, vectors, acc + t0 * N, taps);
  }
}

void WeightGradOneChannelT(const float* x, const float* g, int64_t b0, int64_t b1, int64_t H, int64_t W, int64_t O,
                           int64_t kh, int64_t kw, int64_t ph, int64_t pw, double* sums) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(D()));
  const int64_t Ho = H + 2 * ph - kh + 1, Wo = W + 2 * pw - kw + 1;
  const int64_t vectors = (Wo + N - 1) / N, pitch = vectors * N, taps = kh * kw;
  PaddedImage image(H, W, ph, pw, kh, kw, Wo, N);
  std::vector<int64_t> tap;  // each tap's offset into the padded image
  for (int64_t u = 0; u < kh; ++u) {
    for (int64_t v = 0; v < kw; ++v) tap.push_back(u * image.pitch + v);
  }
  std::vector<float> gpad(static_cast<size_t>(O * Ho * pitch), 0.0f);
  std::vector<float> acc(static_cast<size_t>(O * taps * N), 0.0f);  // N lane-wise partial sums per weight
  for (int64_t b = b0; b < b1; ++b) {
    const float* xpad = image.Fill(x + b * H * W);
    const float* gi = g + b * O * Ho * Wo;
    for (int64_t r = 0; r < O * Ho; ++r) std::copy(gi + r * Wo, gi + (r + 1) * Wo, gpad.data() + r * pitch);
    int64_t o0 = 0;
    for (; o0 + kGradOutBlock <= O; o0 += kGradOutBlock) {
      WeightGradImage<kGradOutBlock>(xpad, image.pitch, tap, gpad.data() + o0 * Ho * pitch, pitch, Ho, vectors,
                                     acc.data() + o0 * taps * N);
    }
    for (; o0 < O; ++o0) {
      WeightGradImage<1>(xpad, image.pitch, tap, gpad.data() + o0 * Ho * pitch, pitch, Ho, vectors,
                         acc.data() + o0 * taps * N);
    }
  }
  for (int64_t k = 0; k < O * taps; ++k) {
    for (int64_t lane = 0; lane < N; ++lane) sums[k] += acc[k * N + lane];
  }
}

// ---- a stride-1 convolution's input gradient (LeNet's conv2) ----
//
// gx[c, y, x] = sum over (o, u, v) of gpad[o, y + u, x + v] * wf[c, o, u, v]: a "full" correlation of g, zero-padded
// by (kh - 1 - ph, kw - 1 - pw), with the flipped kernel. Two output rows of CB channels at a time, a vector of columns
// to a register: each loaded g row serves 2 x CB FMAs.
template <int CB>
void DataGradRows(const float* gpad, int64_t pitch, int64_t plane, int64_t O, const float* wf, int64_t wf_c, int64_t kh,
                  int64_t kw, int64_t H, int64_t W, int64_t qh, int64_t Ho, float* out) {
  const D d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t y = 0; y < H; y += 2) {
    // Only the taps that reach a row of g for one of the two rows (gpad's rows [qh, qh + Ho)): at the borders, up
    // to 4 of 5 taps would only read padding (LeNet's conv2: 50 of 70 row-taps are real).
    const int64_t u_begin = std::max<int64_t>(0, qh - y - 1), u_end = std::min(kh, qh + Ho - y);
    for (int64_t c = 0; c < W; c += N) {
      V acc[CB][2];
      HWY_UNROLL(8)
      for (int cb = 0; cb < CB; ++cb) acc[cb][0] = acc[cb][1] = hn::Zero(d);
      for (int64_t o = 0; o < O; ++o) {
        for (int64_t u = u_begin; u < u_end; ++u) {
          const float* row = gpad + o * plane + (y + u) * pitch + c;
          const float* w = wf + (o * kh + u) * kw;
          for (int64_t v = 0; v < kw; ++v) {
            const V r0 = hn::LoadU(d, row + v);
            const V r1 = hn::LoadU(d, row + pitch + v);
            HWY_UNROLL(8)
            for (int cb = 0; cb < CB; ++cb) {
              const V wv = hn::Set(d, w[cb * wf_c + v]);
              acc[cb][0] = hn::MulAdd(wv, r0, acc[cb][0]);
              acc[cb][1] = hn::MulAdd(wv, r1, acc[cb][1]);
            }
          }
        }
      }
      const int64_t n = std::min(N, W - c);
      for (int cb = 0; cb < CB; ++cb) {
        StoreLanes(d, acc[cb][0], n, out + cb * H * W + y * W + c);
        if (y + 1 < H) StoreLanes(d, acc[cb][1], n, out + cb * H * W + (y + 1) * W + c);
      }
    }
  }
}

void DataGradT(const float* g, int64_t b0, int64_t b1, int64_t O, int64_t Ho, int64_t Wo, const float* wf, int64_t C,
               int64_t kh, int64_t kw, int64_t H, int64_t W, int64_t ph, int64_t pw, float* gx) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(D()));
  const int64_t qh = kh - 1 - ph, qw = kw - 1 - pw;
  const int64_t pitch = (W + N - 1) / N * N + kw - 1, rows = H + kh;  // room for the second row of a last odd row
  const int64_t plane = rows * pitch;
  std::vector<float> gpad(static_cast<size_t>(O * plane + N), 0.0f);  // only the interior is ever written
  for (int64_t b = b0; b < b1; ++b) {
    const float* gi = g + b * O * Ho * Wo;
    for (int64_t o = 0; o < O; ++o) {
      for (int64_t i = 0; i < Ho; ++i) {
        const float* src = gi + (o * Ho + i) * Wo;
        std::copy(src, src + Wo, gpad.data() + o * plane + (i + qh) * pitch + qw);
      }
    }
    float* out = gx + b * C * H * W;
    int64_t c0 = 0;
    for (; c0 + kOutBlock <= C; c0 += kOutBlock) {
      DataGradRows<kOutBlock>(gpad.data(), pitch, plane, O, wf + c0 * O * kh * kw, O * kh * kw, kh, kw, H, W, qh, Ho,
                              out + c0 * H * W);
    }
    for (; c0 < C; ++c0) {
      DataGradRows<1>(gpad.data(), pitch, plane, O, wf + c0 * O * kh * kw, O * kh * kw, kh, kw, H, W, qh, Ho,
                      out + c0 * H * W);
    }
  }
}


// ---- max pooling with indices (NCHW planes) ----
//
// libtorch's NCHW kernel compares element by element with a data-dependent branch (~65 ms for ResNet's stem pool,
// 32 x 64 x 48 x 48, 3x3 stride 2, one thread, against ~14 ms for its channels-last kernel). Here each output row is
// two vector passes: down the window's input rows, column by column (contiguous loads, any stride), then across the
// window's columns of that row-wise result. The winner is PyTorch's: scanning the window row by row, the first
// element greater than every earlier one, and any NaN over a number (the last NaN), i.e. the candidate that is NaN
// with the largest row-major index, else the largest value with the smallest index. The column pass keeps, per
// column, that row's winner, and the row pass compares candidates by (value, index) under the same rule.

using DI = hn::RebindToSigned<D>;
using VI = hn::Vec<DI>;
using M = hn::Mask<D>;

// Whether candidate (v, i) beats the current (m, j) in PyTorch's row-major scan order.
HWY_INLINE M Beats(D d, DI di, V v, VI i, V m, VI j) {
  const M v_nan = hn::IsNaN(v);
  const M m_nan = hn::IsNaN(m);
  const M later = hn::RebindMask(d, hn::Gt(i, j));
  const M earlier = hn::RebindMask(d, hn::Lt(i, j));
  const M if_nan = hn::And(v_nan, later);
  const M if_num = hn::Or(hn::Or(v_nan, hn::Gt(v, m)), hn::And(hn::Eq(v, m), earlier));
  return hn::Or(hn::And(m_nan, if_nan), hn::AndNot(m_nan, if_num));
}

void MaxPoolPlanesT(const float* x, int64_t limit, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                    int64_t Wo, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, float* out,
                    int64_t* ind) {
  const D d;
  const DI di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  // The column pass's result for one output row, at padded positions (column c at pw + c). The row pass reads
  // positions ow * sw + q for ow up to Wo rounded up to whole vectors; the padding (and what lies past the input's
  // right edge) holds candidates that lose to every real one: -inf with the largest index.
  const int64_t width = std::max(((Wo + N - 1) / N * N - 1) * sw + kw, pw + W) + N;
  std::vector<float> cm(static_cast<size_t>(width), -HUGE_VALF);
  std::vector<int32_t> ci(static_cast<size_t>(width), INT32_MAX);
  HWY_ALIGN int32_t lanes[HWY_MAX_BYTES / sizeof(int32_t)];
  const VI iota = hn::Iota(di, 0);
  const VI stride = hn::Set(di, static_cast<int32_t>(sw));
  for (int64_t p = p0; p < p1; ++p) {
    const float* plane = x + p * H * W;
    float* o = out + p * Ho * Wo;
    int64_t* oi = ind + p * Ho * Wo;
    for (int64_t oh = 0; oh < Ho; ++oh) {
      const int64_t top = std::max<int64_t>(oh * sh - ph, 0);
      const int64_t bottom = std::min(oh * sh - ph + kh, H);
      // Down the rows: per column, the first row holding its maximum (the last NaN). Indices are row-major. The
      // last vector of a row may reach past the row's end (a plane narrower than a vector: GoogLeNet's 6 x 6) as
      // long as it stays inside x; only its lanes within the row are kept.
      for (int64_t c = 0; c < W; c += N) {
        const int64_t n = std::min(N, W - c);
        if (n < N && (p * H + bottom - 1) * W + c + N > limit) {
          for (int64_t k = c; k < W; ++k) {
            float m = plane[top * W + k];
            int32_t j = static_cast<int32_t>(top * W + k);
            for (int64_t r = top + 1; r < bottom; ++r) {
              const float v = plane[r * W + k];
              if (v > m || std::isnan(v)) {
                m = v;
                j = static_cast<int32_t>(r * W + k);
              }
            }
            cm[pw + k] = m;
            ci[pw + k] = j;
          }
          break;
        }
        V m = hn::LoadU(d, plane + top * W + c);
        VI j = hn::Add(iota, hn::Set(di, static_cast<int32_t>(top * W + c)));
        for (int64_t r = top + 1; r < bottom; ++r) {
          const V v = hn::LoadU(d, plane + r * W + c);
          const M take = hn::Or(hn::IsNaN(v), hn::Gt(v, m));
          m = hn::IfThenElse(take, v, m);
          j = hn::IfThenElse(hn::RebindMask(di, take), hn::Add(iota, hn::Set(di, static_cast<int32_t>(r * W + c))), j);
        }
        if (n == N) {
          hn::StoreU(m, d, cm.data() + pw + c);
          hn::StoreU(j, di, ci.data() + pw + c);
        } else {
          StoreLanes(d, m, n, cm.data() + pw + c);
          StoreLanes(di, j, n, ci.data() + pw + c);
        }
      }
      // Across the columns of each output's window.
      for (int64_t ow = 0; ow < Wo; ow += N) {
        V m;
        VI j;
        for (int64_t q = 0; q < kw; ++q) {
          V v;
          VI i;
          if (sw == 1) {
            v = hn::LoadU(d, cm.data() + ow + q);
            i = hn::LoadU(di, ci.data() + ow + q);
          } else {
            const VI at = hn::Mul(hn::Add(iota, hn::Set(di, static_cast<int32_t>(ow))), stride);
            v = hn::GatherIndex(d, cm.data() + q, at);
            i = hn::GatherIndex(di, ci.data() + q, at);
          }
          if (q == 0) {
            m = v;
            j = i;
          } else {
            const M take = Beats(d, di, v, i, m, j);
            m = hn::IfThenElse(take, v, m);
            j = hn::IfThenElse(hn::RebindMask(di, take), i, j);
          }
        }
        const int64_t n = std::min(N, Wo - ow);
        StoreLanes(d, m, n, o + oh * Wo + ow);
        hn::Store(j, di, lanes);
        for (int64_t k = 0; k < n; ++k) oi[oh * Wo + ow + k] = lanes[k];
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lt::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lt::simd {

HWY_EXPORT(ConvOneChannelT);
HWY_EXPORT(WeightGradOneChannelT);
HWY_EXPORT(DataGradT);
HWY_EXPORT(MaxPoolPlanesT);

void ConvOneChannel(const float* x, int64_t b0, int64_t b1, int64_t H, int64_t W, const float* w, const float* bias,
                    int64_t O, int64_t kh, int64_t kw, int64_t ph, int64_t pw, bool sigmoid, float* out) {
  HWY_DYNAMIC_DISPATCH(ConvOneChannelT)(x, b0, b1, H, W, w, bias, O, kh, kw, ph, pw, sigmoid, out);
}

void WeightGradOneChannel(const float* x, const float* g, int64_t b0, int64_t b1, int64_t H, int64_t W, int64_t O,
                          int64_t kh, int64_t kw, int64_t ph, int64_t pw, double* sums) {
  HWY_DYNAMIC_DISPATCH(WeightGradOneChannelT)(x, g, b0, b1, H, W, O, kh, kw, ph, pw, sums);
}

void DataGrad(const float* g, int64_t b0, int64_t b1, int64_t O, int64_t Ho, int64_t Wo, const float* wf, int64_t C,
              int64_t kh, int64_t kw, int64_t H, int64_t W, int64_t ph, int64_t pw, float* gx) {
  HWY_DYNAMIC_DISPATCH(DataGradT)(g, b0, b1, O, Ho, Wo, wf, C, kh, kw, H, W, ph, pw, gx);
}

void MaxPoolPlanes(const float* x, int64_t limit, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                   int64_t Wo, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, float* out,
                   int64_t* ind) {
  HWY_DYNAMIC_DISPATCH(MaxPoolPlanesT)(x, limit, p0, p1, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, out, ind);
}

namespace {

// A Highway target's name, in ATEN_CPU_CAPABILITY's spelling where PyTorch has one.
std::string Name(int64_t target) {
#if HWY_ARCH_X86
  if (target <= HWY_AVX3) return "avx512";  // AVX3 and its later variants (AVX3_DL, and AVX3_ZEN4 in Highway 1.2)
#endif
  if (target == HWY_EMU128 || target == HWY_SCALAR) return "default";
  std::string name = hwy::TargetName(target);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return name;
}

// The targets compiled here that this CPU runs, best (lowest bit) first: read once, before any SetTarget.
const std::vector<int64_t>& Available() {
  static const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets;
}

}  // namespace

std::vector<std::string> Targets() {
  std::vector<std::string> names;
  for (int64_t t : Available()) {
    if (std::find(names.begin(), names.end(), Name(t)) == names.end()) names.push_back(Name(t));
  }
  return names;
}

std::string Target() {
  const auto& available = Available();
  // The first target of the supported set that is compiled here: the one HWY_DYNAMIC_DISPATCH calls.
  const int64_t supported = hwy::SupportedTargets();
  for (int64_t t : available) {
    if (supported & t) return Name(t);
  }
  return Name(HWY_STATIC_TARGET);
}

namespace {
std::atomic<bool> g_forced{false};
}  // namespace

bool Wins() {
  if (g_forced) return true;
  // Read per call: cheap (one bit test on the chosen target), and always what HWY_DYNAMIC_DISPATCH would call.
  static const std::vector<std::string> slower = {"sse4", "ssse3", "sse2", "default"};
  const std::string target = Target();
  return std::find(slower.begin(), slower.end(), target) == slower.end();
}

bool SetTarget(const std::string& name, bool forced) {
  const auto& available = Available();
  int64_t chosen = 0;
  if (name != "auto") {
    const auto it = std::find_if(available.begin(), available.end(), [&](int64_t t) { return Name(t) == name; });
    if (it == available.end()) return false;
    chosen = *it;
  }
  hwy::SetSupportedTargetsForTest(chosen);  // 0: the CPU's own set again
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  g_forced = forced && name != "auto";
  return true;
}

}  // namespace lt::simd
#endif  // HWY_ONCE
