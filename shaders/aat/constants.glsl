// Constants shared by AAT shaders.
#ifndef AAT_CONSTANTS_GLSL
#define AAT_CONSTANTS_GLSL

// -inf as a bit pattern: a literal 1.0/0.0 may be folded differently by compilers.
#define AAT_NEG_INF uintBitsToFloat(0xff800000u)

#endif
