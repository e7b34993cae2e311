// Constants shared by AAT shaders.
#ifndef AAT_CONSTANTS_GLSL
#define AAT_CONSTANTS_GLSL

// -inf as a bit pattern: a literal 1.0/0.0 may be folded differently by compilers.
#define AAT_NEG_INF uintBitsToFloat(0xff800000u)

// max() that returns NaN when either side is NaN. GLSL leaves max(NaN, x) undefined and
// drivers return x, which would turn a NaN row into a "fully masked" one.
float aat_max(float a, float b) {
  return (isnan(a) || isnan(b)) ? a + b : max(a, b);
}

#endif
