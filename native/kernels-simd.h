// The direct loops of native/kernels.cc on raw float arrays, one source (kernels-simd.cc) compiled by Google Highway
// for every SIMD target of the architecture (x86: AVX-512, AVX2 + FMA, SSE4; ARM64: NEON; and everywhere a portable
// 128-bit fallback in plain C++), the best one the CPU has chosen at run time. No libtorch types here: the file is
// compiled once per target, so it includes only Highway.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lt::simd {

// conv2d of images [b0, b1) of x [B, 1, H, W] by w [O, 1, kh, kw] + bias [O], stride 1, padding (ph, pw) smaller than
// the kernel, into out [B, O, Ho, Wo]; with `sigmoid`, sigmoid of it.
void ConvOneChannel(const float* x, int64_t b0, int64_t b1, int64_t H, int64_t W, const float* w, const float* bias,
                    int64_t O, int64_t kh, int64_t kw, int64_t ph, int64_t pw, bool sigmoid, float* out);

// The weight gradient [O, 1, kh, kw] of that convolution over images [b0, b1), given g [B, O, Ho, Wo] = dL/d(output):
// added to sums [O * kh * kw].
void WeightGradOneChannel(const float* x, const float* g, int64_t b0, int64_t b1, int64_t H, int64_t W, int64_t O,
                          int64_t kh, int64_t kw, int64_t ph, int64_t pw, double* sums);

// The input gradient gx [B, C, H, W] of conv2d(x, w, stride 1, padding (ph, pw) smaller than the kernel) for images
// [b0, b1), given g [B, O, Ho, Wo] and the flipped kernel wf [C, O, kh, kw] (wf[c, o, u, v] = w[o, c, kh-1-u, kw-1-v]).
void DataGrad(const float* g, int64_t b0, int64_t b1, int64_t O, int64_t Ho, int64_t Wo, const float* wf, int64_t C,
              int64_t kh, int64_t kw, int64_t H, int64_t W, int64_t ph, int64_t pw, float* gx);

// max_pool2d_with_indices of planes [p0, p1) of x [P, H, W] (contiguous, `limit` = P * H * W floats), dilation 1,
// into out and ind [P, Ho, Wo] (indices row-major within the plane, as PyTorch's): padding (ph, pw) at most half the
// window, Ho and Wo as PyTorch computes them (ceil_mode included), H * W < 2^31.
void MaxPoolPlanes(const float* x, int64_t limit, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                   int64_t Wo, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, float* out,
                   int64_t* ind);

// The SIMD targets compiled into this build that this CPU can run, best first, by the names of PyTorch's
// ATEN_CPU_CAPABILITY where it has one: "avx512", "avx2", "sse4", "neon", "sve", "sve2", "default" (the portable
// fallback).
std::vector<std::string> Targets();

// The target the loops use now.
std::string Target();

// Makes the loops use `name` (one of Targets()), or the best one again with "auto"; false (and nothing changed) for
// any other name. `forced`: the loops run on that target even where libtorch's kernels are faster (see Wins()), as
// the kernel tests need to check every target; otherwise (ATEN_CPU_CAPABILITY, "auto") Wins() decides.
bool SetTarget(const std::string& name, bool forced = false);

// Whether the direct loops should run: on AVX-512, AVX2 and NEON they beat libtorch's kernels; on SSE4 and the
// portable fallback they are 2-8x slower (test/bench/layers.js), so those CPUs keep libtorch's kernels, unless a
// target was forced.
bool Wins();

}  // namespace lt::simd
