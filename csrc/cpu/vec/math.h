// Branch-free float32 exp, expm1, tanh and sigmoid, written as plain scalar code so that GCC/Clang
// vectorize loops that call them (-O3, any -m flags): no calls, no early returns, 2^n built from
// bits, special cases picked by vec::select. Header-only, no intrinsics, usable from every ISA
// namespace.
//
// Why select and not `c ? a : b`: under the default -ftrapping-math, GCC sinks arithmetic that only
// one arm uses (`x > 0 ? x : x * alpha`) under a branch, refuses to speculate it, and leaves the
// loop scalar ("control flow in loop"); a clamp `x > c ? c : x` followed by arithmetic gets the
// constant arm threaded into its own path, with the same result.
//
// Method (Cephes expf): x = n ln2 + r with |r| <= ln2/2 (ln2 split in two, Cody-Waite),
// e^r = 1 + r + r^2 P(r) with a degree-5 minimax P, then scale by 2^n. Measured against float64
// (tests/test_vecmath.py): relative error <= 3e-7 for normal results; denormal results within one
// denormal step. Limits: exp is 0 below -103.97 and +inf above 88.7228, expm1 -> -1, tanh -> +-1,
// sigmoid -> 0 / 1 (no NaN from inf/inf); NaN in gives NaN out; -0 stays -0 where f(-0) = -0.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__)
#define FASTCNN_VEC_INLINE static inline __attribute__((always_inline))
#else
#define FASTCNN_VEC_INLINE static inline
#endif

namespace fastcnn::vec {

namespace math_detail {

FASTCNN_VEC_INLINE uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

FASTCNN_VEC_INLINE float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// 2^k for k in [-126, 127].
FASTCNN_VEC_INLINE float pow2i(int32_t k) { return from_bits(static_cast<uint32_t>(k + 127) << 23); }

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;       // 9 bits: n * kLn2Hi is exact for |n| < 2^15
constexpr float kLn2Lo = -2.12194440e-4f;    // ln2 - kLn2Hi
constexpr float kRoundMagic = 12582912.0f;   // 1.5 * 2^23: adding it rounds |v| < 2^22 to an integer

// Splits x (finite, |x| < 2^21) into n and r with x = n ln2 + r, |r| <= ln2/2.
struct Reduced {
  int32_t n;
  float r;
};
FASTCNN_VEC_INLINE Reduced reduce_ln2(float x) {
  const float t = x * kLog2e + kRoundMagic;
  const float n = t - kRoundMagic;
  // t's low mantissa bits hold n (two's complement offset from the magic's bits)
  const int32_t ni = static_cast<int32_t>(bits_of(t) - bits_of(kRoundMagic));
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  return {ni, r};
}

// e^r - 1 on |r| <= ln2/2 as r + r^2 P(r) (Cephes expf coefficients).
FASTCNN_VEC_INLINE float expm1_reduced(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * (r * r) + r;
}

// e^x for x in [-104, 89] (no NaN): 2^n is applied as 2^(n/2) * 2^(n - n/2) so that n in
// [-150, 128] needs no special case; the first product is exact, the second rounds once (to a
// denormal, or to inf, exactly where the true result does).
FASTCNN_VEC_INLINE float exp_clamped(float x) {
  const Reduced k = reduce_ln2(x);
  const float y = expm1_reduced(k.r) + 1.0f;
  const int32_t n1 = k.n >> 1, n2 = k.n - n1;
  return (y * pow2i(n1)) * pow2i(n2);
}

}  // namespace math_detail

// c ? a : b computed as a bit blend, so both arms are evaluated and the loop stays vectorizable.
FASTCNN_VEC_INLINE float select(bool c, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return math_detail::from_bits((math_detail::bits_of(a) & mask) | (math_detail::bits_of(b) & ~mask));
}

// e^x. The clamps let NaN through: it gives r = NaN (and some n), so NaN comes out of the product.
FASTCNN_VEC_INLINE float exp_f(float x) {
  float xc = select(x > 89.0f, 89.0f, x);      // e^89 overflows: +inf comes out of the scaling
  xc = select(xc < -104.0f, -104.0f, xc);      // e^-104 < 2^-150 rounds to 0
  return math_detail::exp_clamped(xc);
}

// e^x - 1, accurate near 0: e^x - 1 = 2 (2^(n-1) (e^r - 1) + (2^(n-1) - 1/2)), where 2^(n-1) is
// representable for every n reached (-26 .. 128) and n = 0 gives e^r - 1 exactly as computed.
FASTCNN_VEC_INLINE float expm1_f(float x) {
  float xc = select(x > 89.0f, 89.0f, x);  // NaN passes, as in exp_f
  xc = select(xc < -18.0f, -18.0f, xc);    // e^-18 - 1 rounds to -1
  const math_detail::Reduced k = math_detail::reduce_ln2(xc);
  const float em1 = math_detail::expm1_reduced(k.r);
  const float h = math_detail::pow2i(k.n - 1);
  const float y = 2.0f * (h * em1 + (h - 0.5f));
  // e^x - 1 rounds to x below 2^-30 (keeps -0 and denormals, which 2^-1 (e^r - 1) would round)
  return select(std::fabs(x) < 0x1p-30f, x, y);
}

// tanh(x) = E / (E + 2) with E = e^(2|x|) - 1, then x's sign. One formula for every |x|: E is
// built as 2^n (e^r - 1) + (2^n - 1), which is e^r - 1 itself for n = 0 (|x| < ln2/4), so E keeps
// its relative accuracy near 0 and no separate small-|x| polynomial has to be computed beside the
// exp (the old code evaluated both and picked one: a third more work and a longer chain). tanh's
// sensitivity to E falls as 2/e^(2|x|), so the reduction needs one FMA with ln2 rounded to float
// (its error, n * 2e-9, is scaled down by 2^-n) and 2^n - 1 may round for n > 24. Max relative
// error 1.8e-7, with or without FMA contraction (every float in [0, 12] checked against float64).
FASTCNN_VEC_INLINE float tanh_f(float x) {
  const float ax = std::fabs(x);
  const float ac = select(ax < 10.0f, ax, 10.0f);  // tanh(10) rounds to 1; NaN -> 10
  // n = round(2|x| / ln2) in [0, 29], so a single 2^n needs no split (see exp_clamped)
  const float t = ac * (2.0f * math_detail::kLog2e) + math_detail::kRoundMagic;
  const float n = t - math_detail::kRoundMagic;
  const int32_t ni = static_cast<int32_t>(math_detail::bits_of(t) - math_detail::bits_of(math_detail::kRoundMagic));
  const float r = 2.0f * ac - n * 0.693147180559945309f;
  const float s = math_detail::pow2i(ni);
  const float em1 = s * math_detail::expm1_reduced(r) + (s - 1.0f);
  const float mag = select(ax != ax, ax, em1 / (em1 + 2.0f));  // NaN stays NaN
  // |tanh(x)| with x's sign (also gives tanh(-0) = -0; tiny x gives (2x)/2 = x exactly)
  return math_detail::from_bits(math_detail::bits_of(mag) | (math_detail::bits_of(x) & 0x80000000u));
}

// 1 / (1 + e^-x), from t = e^-|x| in (0, 1] so that nothing overflows: t/(1+t) for x < 0 (keeps
// the tiny results down to denormals), 1/(1+t) otherwise.
FASTCNN_VEC_INLINE float sigmoid_f(float x) {
  const float t = exp_f(-std::fabs(x));  // NaN stays NaN
  return select(x < 0.0f, t, 1.0f) / (1.0f + t);
}

}  // namespace fastcnn::vec
