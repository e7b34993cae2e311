// Operands of the bound rule's tensor-core moments (bound_moments_coopmat.glsl): an f32 vector
// as two f16 vectors hi + lo after scaling by a power of two, so f16 products with f32
// accumulation keep about 22 bits and f16's range holds any finite input.
// Include after GL_EXT_shader_16bit_storage and GL_EXT_shader_explicit_arithmetic_types_float16.

// The exponent e with 0 <= x < 2^e (0 for x = 0).
int exponent_above(float x) {
  int e = 0;
  if (x > 0.0) frexp(x, e);  // x = mantissa 2^e, mantissa in [0.5, 1)
  return e;
}

#define SPLIT_NAN uintBitsToFloat(0x7fc00000u)

// x 2^-e as (hi, lo): hi = x 2^-e with its significand cut to f16's 11 bits (exact in f16 for
// normal f16 values), lo = f16(x 2^-e - hi). The cut is integer arithmetic on purpose: NVIDIA's
// compiler folded float(float16_t(x)) - and even unpackHalf2x16(packHalf2x16(x)) - to x, which
// made every lo zero (measured on the H200: 2^-12 instead of 2^-22).
f16vec2 split_half(float x, int e) {
  const float scaled = ldexp(x, -e);
  const float hi = uintBitsToFloat(floatBitsToUint(scaled) & 0xffffe000u);
  return f16vec2(float16_t(hi), float16_t(scaled - hi));
}
