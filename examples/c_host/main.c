/* Attention from C through the installed C API (the plugin's op, found by name), checked
 * against a CPU reference. */
#include <aat/aat.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK_AAT(call)                                                                           \
  do {                                                                                            \
    aat_status status_ = (call);                                                                  \
    if (status_ != AAT_OK) {                                                                      \
      fprintf(stderr, "c_host: %s: %s: %s\n", #call, aat_status_string(status_), aat_last_error_message()); \
      return 1;                                                                                   \
    }                                                                                             \
  } while (0)

enum { H = 2, N = 40, D = 32 };

static float q[H * N * D], k[H * N * D], v[H * N * D], o[H * N * D];

static float next_random(unsigned* state) {
  *state = *state * 1664525u + 1013904223u;
  return (float)((*state >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

int main(void) {
  const int64_t shape[4] = {1, H, N, D};
  aat_context* ctx = NULL;
  aat_tensor *tq = NULL, *tk = NULL, *tv = NULL, *to = NULL;
  const char* device = NULL;
  unsigned seed = 42u;
  double worst = 0.0;
  int h, i, j, c;

  for (i = 0; i < H * N * D; ++i) {
    q[i] = next_random(&seed);
    k[i] = next_random(&seed);
    v[i] = next_random(&seed);
  }
  CHECK_AAT(aat_context_create(NULL, &ctx));
  CHECK_AAT(aat_context_device_name(ctx, &device));
  printf("c_host: aat %s on %s\n", aat_version(), device);

  CHECK_AAT(aat_tensor_create(ctx, AAT_F32, shape, 4, &tq));
  CHECK_AAT(aat_tensor_create(ctx, AAT_F32, shape, 4, &tk));
  CHECK_AAT(aat_tensor_create(ctx, AAT_F32, shape, 4, &tv));
  CHECK_AAT(aat_tensor_upload(tq, q, sizeof q));
  CHECK_AAT(aat_tensor_upload(tk, k, sizeof k));
  CHECK_AAT(aat_tensor_upload(tv, v, sizeof v));
  {
    const aat_op* attention = NULL;
    const aat_named_tensor inputs[3] = {{"q", tq}, {"k", tk}, {"v", tv}};
    aat_op_output outputs[1] = {{"out", NULL}};
    outputs[0].tensor = &to;
    CHECK_AAT(aat_op_find(ctx, "attention", &attention));
    /* No parameters: not causal, scale 1/sqrt(D). */
    CHECK_AAT(aat_op_run(ctx, attention, inputs, 3, NULL, 0, outputs, 1, NULL));
  }
  CHECK_AAT(aat_tensor_download(to, o, sizeof o));

  for (h = 0; h < H; ++h)
    for (i = 0; i < N; ++i) {
      double s[N], m = -INFINITY, l = 0.0, acc[D] = {0};
      for (j = 0; j < N; ++j) {
        double dot = 0.0;
        for (c = 0; c < D; ++c) dot += (double)q[(h * N + i) * D + c] * (double)k[(h * N + j) * D + c];
        s[j] = dot / sqrt((double)D);
        if (s[j] > m) m = s[j];
      }
      for (j = 0; j < N; ++j) {
        const double w = exp(s[j] - m);
        l += w;
        for (c = 0; c < D; ++c) acc[c] += w * (double)v[(h * N + j) * D + c];
      }
      for (c = 0; c < D; ++c) {
        const double want = acc[c] / l, err = fabs((double)o[(h * N + i) * D + c] - want) / (1.0 + fabs(want));
        if (err > worst) worst = err;
      }
    }
  printf("c_host: attention [1, %d, %d, %d], max relative error %.3g\n", H, N, D, worst);

  aat_tensor_destroy(tq);
  aat_tensor_destroy(tk);
  aat_tensor_destroy(tv);
  aat_tensor_destroy(to);
  aat_context_destroy(ctx);
  if (!(worst <= 2e-5)) {
    fprintf(stderr, "c_host: attention result is wrong\n");
    return 1;
  }
  printf("c_host: ok\n");
  return 0;
}
