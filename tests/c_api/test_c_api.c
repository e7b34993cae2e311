/* The C API from plain C99: every deliverable of <aat/aat.h> with its error paths.
 * Attention is checked against a double-precision CPU reference written here from the math:
 * O = softmax(scale Q K^T + mask) V, L = log sum exp, |gpu - ref| <= 2e-5 (1 + |ref|) for f32
 * (f32 accumulation over D <= 64 and Nk <= 50 terms: errors of order 1e-6). */
#include <aat/aat.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                             \
    }                                                                         \
  } while (0)

/* A call that must succeed; on failure prints the framework's message and stops the test. */
#define OK(call)                                                                                  \
  do {                                                                                            \
    aat_status ok_status_ = (call);                                                               \
    if (ok_status_ != AAT_OK) {                                                                   \
      fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,                    \
              aat_status_string(ok_status_), aat_last_error_message());                           \
      exit(1);                                                                                    \
    }                                                                                             \
  } while (0)

/* A call that must fail with `expected`, and a message containing `needle`. */
static void expect_error(aat_status got, aat_status expected, const char* needle, const char* what) {
  if (got != expected) {
    fprintf(stderr, "%s: expected %s, got %s (%s)\n", what, aat_status_string(expected), aat_status_string(got),
            aat_last_error_message());
    ++failures;
    return;
  }
  if (!strstr(aat_last_error_message(), needle)) {
    fprintf(stderr, "%s: message lacks '%s': %s\n", what, needle, aat_last_error_message());
    ++failures;
  }
}

static float uniform(unsigned* state) { /* in [-1, 1) */
  *state = *state * 1664525u + 1013904223u;
  return (float)((*state >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static aat_tensor* make_f32(aat_context* ctx, const int64_t* shape, size_t rank, const float* data) {
  aat_tensor* t = NULL;
  size_t n = 1, i;
  for (i = 0; i < rank; ++i) n *= (size_t)shape[i];
  OK(aat_tensor_create(ctx, AAT_F32, shape, rank, &t));
  OK(aat_tensor_upload(t, data, n * sizeof(float)));
  return t;
}

/* ---- attention reference ------------------------------------------------------------- */

typedef struct problem {
  int64_t B, H, Nq, Nk, D;
  int causal;
  const int32_t* lengths; /* NULL: none */
} problem;

static void reference(const problem* p, const float* q, const float* k, const float* v, double* o, double* lse) {
  const double scale = 1.0 / sqrt((double)p->D);
  double* s = malloc((size_t)p->Nk * sizeof(double));
  int64_t b, h, i, j, d;
  for (b = 0; b < p->B; ++b)
    for (h = 0; h < p->H; ++h)
      for (i = 0; i < p->Nq; ++i) {
        const float* qi = q + ((b * p->H + h) * p->Nq + i) * p->D;
        const float* kb = k + (b * p->H + h) * p->Nk * p->D;
        const float* vb = v + (b * p->H + h) * p->Nk * p->D;
        double* oi = o + ((b * p->H + h) * p->Nq + i) * p->D;
        double m = -INFINITY, l = 0.0;
        for (j = 0; j < p->Nk; ++j) {
          int visible = 1;
          if (p->causal && j > i + p->Nk - p->Nq) visible = 0;
          if (p->lengths && j >= p->lengths[b]) visible = 0;
          s[j] = -INFINITY;
          if (visible) {
            double dot = 0.0;
            for (d = 0; d < p->D; ++d) dot += (double)qi[d] * (double)kb[j * p->D + d];
            s[j] = dot * scale;
            if (s[j] > m) m = s[j];
          }
        }
        for (d = 0; d < p->D; ++d) oi[d] = 0.0;
        if (m == -INFINITY) {
          lse[(b * p->H + h) * p->Nq + i] = -INFINITY;
          continue;
        }
        for (j = 0; j < p->Nk; ++j) {
          const double w = s[j] == -INFINITY ? 0.0 : exp(s[j] - m);
          l += w;
          for (d = 0; d < p->D; ++d) oi[d] += w * (double)vb[j * p->D + d];
        }
        for (d = 0; d < p->D; ++d) oi[d] /= l;
        lse[(b * p->H + h) * p->Nq + i] = m + log(l);
      }
  free(s);
}

/* The attention op through aat_op_run: q, k, v, optional key lengths, causal; out and lse. */
static aat_status run_attention(aat_context* ctx, const aat_tensor* q, const aat_tensor* k, const aat_tensor* v,
                                const aat_tensor* lengths, int causal, aat_tensor** out, aat_tensor** lse) {
  const aat_op* op = NULL;
  /* The optional key lengths and lse are the last entries: left out by the counts. */
  const aat_named_tensor inputs[4] = {{"q", q}, {"k", k}, {"v", v}, {"key_lengths", lengths}};
  aat_op_output outputs[2] = {{"out", out}, {"lse", lse}};
  const aat_value params[1] = {aat_value_bool("causal", causal)};
  aat_status status = aat_op_find(ctx, "attention", &op);
  if (status != AAT_OK) return status;
  return aat_op_run(ctx, op, inputs, lengths ? 4 : 3, params, 1, outputs, lse ? 2 : 1, NULL);
}

/* Runs attention through the C API on random data and compares; returns the failure count. */
static int check_attention(aat_context* ctx, const problem* p, unsigned seed) {
  const size_t nq = (size_t)(p->B * p->H * p->Nq * p->D), nk = (size_t)(p->B * p->H * p->Nk * p->D);
  const size_t rows = (size_t)(p->B * p->H * p->Nq);
  const int64_t qshape[4] = {p->B, p->H, p->Nq, p->D}, kshape[4] = {p->B, p->H, p->Nk, p->D};
  float *q = malloc(nq * sizeof(float)), *k = malloc(nk * sizeof(float)), *v = malloc(nk * sizeof(float));
  float *o = malloc(nq * sizeof(float)), *l = malloc(rows * sizeof(float));
  double *want_o = malloc(nq * sizeof(double)), *want_l = malloc(rows * sizeof(double));
  aat_tensor *tq, *tk, *tv, *to = NULL, *tl = NULL, *tlen = NULL;
  int bad = 0;
  size_t i, rank = 0;
  int64_t out_shape[4] = {0, 0, 0, 0};
  for (i = 0; i < nq; ++i) q[i] = uniform(&seed);
  for (i = 0; i < nk; ++i) k[i] = uniform(&seed);
  for (i = 0; i < nk; ++i) v[i] = uniform(&seed);
  tq = make_f32(ctx, qshape, 4, q);
  tk = make_f32(ctx, kshape, 4, k);
  tv = make_f32(ctx, kshape, 4, v);
  if (p->lengths) {
    const int64_t lshape[1] = {p->B};
    OK(aat_tensor_create(ctx, AAT_I32, lshape, 1, &tlen));
    OK(aat_tensor_upload(tlen, p->lengths, (size_t)p->B * sizeof(int32_t)));
  }
  OK(run_attention(ctx, tq, tk, tv, tlen, p->causal, &to, &tl));
  OK(aat_tensor_shape(to, out_shape, 4, &rank));
  if (rank != 4 || out_shape[0] != p->B || out_shape[1] != p->H || out_shape[2] != p->Nq || out_shape[3] != p->D) {
    fprintf(stderr, "attention: output shape is wrong (rank %zu)\n", rank);
    ++bad;
  }
  OK(aat_tensor_download(to, o, nq * sizeof(float)));
  OK(aat_tensor_download(tl, l, rows * sizeof(float)));
  reference(p, q, k, v, want_o, want_l);
  for (i = 0; i < nq && bad < 5; ++i)
    if (!(fabs((double)o[i] - want_o[i]) <= 2e-5 * (1.0 + fabs(want_o[i])))) {
      fprintf(stderr, "attention O[%zu]: got %.8g, want %.8g\n", i, (double)o[i], want_o[i]);
      ++bad;
    }
  for (i = 0; i < rows && bad < 5; ++i) {
    const int both_inf = isinf(want_l[i]) && isinf(l[i]) && (l[i] < 0) == (want_l[i] < 0);
    if (!both_inf && !(fabs((double)l[i] - want_l[i]) <= 2e-5 * (1.0 + fabs(want_l[i])))) {
      fprintf(stderr, "attention L[%zu]: got %.8g, want %.8g\n", i, (double)l[i], want_l[i]);
      ++bad;
    }
  }
  aat_tensor_destroy(tq);
  aat_tensor_destroy(tk);
  aat_tensor_destroy(tv);
  aat_tensor_destroy(to);
  aat_tensor_destroy(tl);
  aat_tensor_destroy(tlen);
  free(q); free(k); free(v); free(o); free(l); free(want_o); free(want_l);
  return bad;
}

/* ---- threads ------------------------------------------------------------------------- */

typedef struct worker {
  aat_context* ctx;
  unsigned seed;
  int failures;
} worker;

static void* run_worker(void* arg) {
  worker* w = arg;
  int iteration;
  for (iteration = 0; iteration < 3; ++iteration) {
    problem p = {1, 2, 0, 0, 32, 0, NULL};
    p.Nq = 9 + (int64_t)(w->seed % 7) + iteration;
    p.Nk = 17 + (int64_t)(w->seed % 5) * 3 + iteration;
    p.causal = (int)((w->seed + (unsigned)iteration) % 2);
    w->failures += check_attention(w->ctx, &p, w->seed * 31u + (unsigned)iteration);
  }
  return NULL;
}

/* ---- the test ------------------------------------------------------------------------ */

int main(void) {
  aat_context* ctx = NULL;
  const char* device = NULL;
  size_t count = 0;
  char name[256];

  /* version, status names, errors before any device */
  CHECK(strlen(aat_version()) > 0);
  CHECK(strcmp(aat_status_string(AAT_OK), "ok") == 0);
  CHECK(strcmp(aat_status_string(AAT_ERROR_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(aat_status_string(AAT_ERROR_INTERNAL), "internal") == 0);
  CHECK(strcmp(aat_last_error_message(), "") == 0);
  expect_error(aat_context_create(NULL, NULL), AAT_ERROR_INVALID_ARGUMENT, "aat_context_create", "NULL out");
  expect_error(aat_context_create("no-such-device-xyz", &ctx), AAT_ERROR_NOT_FOUND, "no-such-device-xyz",
               "unknown device");
  CHECK(ctx == NULL);
  CHECK(aat_context_destroy(NULL) == AAT_OK);
  CHECK(aat_tensor_destroy(NULL) == AAT_OK);
  CHECK(aat_kernel_destroy(NULL) == AAT_OK);

  OK(aat_device_count(&count));
  CHECK(count >= 1);
  OK(aat_device_name(0, name, sizeof name));
  CHECK(strlen(name) > 0);
  expect_error(aat_device_name(count, name, sizeof name), AAT_ERROR_NOT_FOUND, "no device", "device index");

  OK(aat_context_create(NULL, &ctx));
  OK(aat_context_device_name(ctx, &device));
  printf("device: %s (aat %s)\n", device, aat_version());

  /* tensors: zero-filled, round trip, shape, dtype, size checks */
  {
    const int64_t shape[2] = {3, 5};
    float values[15], back[15];
    int64_t got_shape[2] = {0, 0};
    size_t rank = 0, bytes = 0, i;
    aat_dtype dtype = AAT_U8;
    aat_tensor* t = NULL;
    OK(aat_tensor_create(ctx, AAT_F32, shape, 2, &t));
    OK(aat_tensor_download(t, back, sizeof back));
    for (i = 0; i < 15; ++i) CHECK(back[i] == 0.0f);
    for (i = 0; i < 15; ++i) values[i] = (float)i * 0.5f - 3.0f;
    OK(aat_tensor_upload(t, values, sizeof values));
    OK(aat_tensor_download(t, back, sizeof back));
    CHECK(memcmp(values, back, sizeof values) == 0);
    OK(aat_tensor_shape(t, got_shape, 2, &rank));
    CHECK(rank == 2 && got_shape[0] == 3 && got_shape[1] == 5);
    OK(aat_tensor_dtype(t, &dtype));
    CHECK(dtype == AAT_F32);
    OK(aat_tensor_bytes(t, &bytes));
    CHECK(bytes == 60);
    expect_error(aat_tensor_upload(t, values, 59), AAT_ERROR_SIZE_MISMATCH, "60 bytes", "short upload");
    expect_error(aat_tensor_create(ctx, (aat_dtype)9, shape, 2, &t), AAT_ERROR_INVALID_ARGUMENT, "dtype",
                 "bad dtype");
    aat_tensor_destroy(t);
  }

  /* a shader-only kernel from a file: saxpy, typed push values, then text ones and a spec constant */
  {
    enum { n = 1000 };
    static float x[n], y[n], out[n];
    const int64_t shape[1] = {n};
    const uint64_t grid[3] = {n, 1, 1};
    aat_kernel *kernel = NULL, *wide = NULL;
    aat_tensor *tx, *ty, *ti;
    aat_binding bindings[2];
    aat_value push[2];
    aat_value spec[1];
    uint32_t local[3] = {0, 0, 0};
    double gpu_ms = -1.0;
    size_t i;
    for (i = 0; i < n; ++i) {
      x[i] = (float)i;
      y[i] = 1.0f;
    }
    tx = make_f32(ctx, shape, 1, x);
    ty = make_f32(ctx, shape, 1, y);
    OK(aat_kernel_from_file(ctx, AAT_SOURCE_DIR "/examples/shaders/saxpy.comp", NULL, 0, &kernel));
    OK(aat_kernel_local_size(kernel, local));
    CHECK(local[0] == 64 && local[1] == 1 && local[2] == 1);
    bindings[0].name = "X";
    bindings[0].tensor = tx;
    bindings[1].name = "Y";
    bindings[1].tensor = ty;
    push[0] = aat_value_float("a", 2.0);
    push[1] = aat_value_int("n", n);
    OK(aat_run_shader(kernel, bindings, 2, push, 2, grid, &gpu_ms));
    CHECK(gpu_ms >= 0.0);
    OK(aat_tensor_download(ty, out, sizeof out));
    for (i = 0; i < n; ++i) CHECK(out[i] == 2.0f * (float)i + 1.0f);

    spec[0] = aat_value_text("local_size_x", "128");
    OK(aat_kernel_from_file(ctx, AAT_SOURCE_DIR "/examples/shaders/saxpy.comp", spec, 1, &wide));
    OK(aat_kernel_local_size(wide, local));
    CHECK(local[0] == 128);
    push[0] = aat_value_text("a", "-1");
    push[1] = aat_value_text("n", "1000");
    OK(aat_run_shader(wide, bindings, 2, push, 2, grid, NULL));
    OK(aat_tensor_download(ty, out, sizeof out));
    for (i = 0; i < n; ++i) CHECK(out[i] == 1.0f * (float)i + 1.0f);

    /* errors, each with the framework's message */
    bindings[1].name = "Z";
    expect_error(aat_run_shader(kernel, bindings, 2, push, 2, grid, NULL), AAT_ERROR_NOT_FOUND, "'Z'",
                 "unknown binding");
    CHECK(strstr(aat_last_error_message(), "'X', 'Y'") != NULL);
    bindings[1].name = "Y";
    expect_error(aat_run_shader(kernel, bindings, 1, push, 2, grid, NULL), AAT_ERROR_NOT_FOUND, "'Y'",
                 "unbound binding");
    expect_error(aat_run_shader(kernel, bindings, 2, push, 1, grid, NULL), AAT_ERROR_NOT_FOUND, "'n'",
                 "push member never set");
    push[0] = aat_value_text("a", "fast");
    expect_error(aat_run_shader(kernel, bindings, 2, push, 2, grid, NULL), AAT_ERROR_PARSE, "'fast'",
                 "unparsable push text");
    push[0] = aat_value_float("a", 2.0);
    push[1] = aat_value_float("n", 2.5);
    expect_error(aat_run_shader(kernel, bindings, 2, push, 2, grid, NULL), AAT_ERROR_TYPE_MISMATCH, "n",
                 "fractional value for a uint");
    push[1] = aat_value_int("n", n);
    OK(aat_tensor_create(ctx, AAT_I32, shape, 1, &ti));
    bindings[0].tensor = ti;
    expect_error(aat_run_shader(kernel, bindings, 2, push, 2, grid, NULL), AAT_ERROR_TYPE_MISMATCH, "i32",
                 "i32 tensor for a float array");
    aat_tensor_destroy(ti);
    spec[0] = aat_value_text("no_such_constant", "1");
    expect_error(aat_kernel_from_file(ctx, AAT_SOURCE_DIR "/examples/shaders/saxpy.comp", spec, 1, &wide),
                 AAT_ERROR_NOT_FOUND, "no_such_constant", "unknown spec constant");
    expect_error(aat_kernel_from_file(ctx, "/nonexistent/shader.comp", NULL, 0, &wide), AAT_ERROR_IO,
                 "/nonexistent/shader.comp", "missing file");
    expect_error(aat_kernel_from_source(ctx, "#version 450\nvoid main() { oops }\n", "broken.comp", NULL, 0, &wide),
                 AAT_ERROR_SHADER_COMPILE, "broken.comp", "GLSL error");
    /* handles outlive each other in any order: the context goes last here, tensors first */
    aat_tensor_destroy(tx);
    aat_tensor_destroy(ty);
    aat_kernel_destroy(kernel);
    aat_kernel_destroy(wide);
  }

  /* a kernel from GLSL text, reading a shared header from AAT's shader folder */
  {
    const char* source =
        "#version 450\n"
        "layout(local_size_x = 32) in;\n"
        "layout(std430, binding = 0) buffer Data { int v[]; } data;\n"
        "layout(push_constant) uniform P { int add; uint n; } p;\n"
        "void main() { uint i = gl_GlobalInvocationID.x; if (i < p.n) data.v[i] += p.add; }\n";
    const int64_t shape[1] = {100};
    const uint64_t grid[3] = {100, 1, 1};
    int32_t values[100];
    aat_kernel* kernel = NULL;
    aat_tensor* t = NULL;
    aat_binding binding;
    aat_value push[2];
    size_t i;
    for (i = 0; i < 100; ++i) values[i] = (int32_t)i;
    OK(aat_kernel_from_source(ctx, source, "add.comp", NULL, 0, &kernel));
    OK(aat_tensor_create(ctx, AAT_I32, shape, 1, &t));
    OK(aat_tensor_upload(t, values, sizeof values));
    binding.name = "data";
    binding.tensor = t;
    push[0] = aat_value_int("add", -7);
    push[1] = aat_value_int("n", 100);
    OK(aat_run_shader(kernel, &binding, 1, push, 2, grid, NULL));
    OK(aat_tensor_download(t, values, sizeof values));
    for (i = 0; i < 100; ++i) CHECK(values[i] == (int32_t)i - 7);
    aat_kernel_destroy(kernel);
    aat_tensor_destroy(t);
  }

  /* attention against the reference: plain, causal, key lengths, Nq != Nk */
  {
    const int32_t lengths[2] = {5, 23};
    problem plain = {1, 2, 33, 33, 64, 0, NULL};
    problem causal = {2, 3, 19, 41, 32, 1, NULL};
    problem masked = {2, 1, 7, 23, 16, 0, lengths};
    failures += check_attention(ctx, &plain, 1u);
    failures += check_attention(ctx, &causal, 2u);
    failures += check_attention(ctx, &masked, 3u);
  }

  /* attention errors */
  {
    const int64_t qs[4] = {1, 1, 4, 12}, ks[4] = {1, 1, 4, 12};
    aat_tensor *q, *k, *out = NULL;
    OK(aat_tensor_create(ctx, AAT_F32, qs, 4, &q));
    OK(aat_tensor_create(ctx, AAT_F32, ks, 4, &k));
    expect_error(run_attention(ctx, q, k, k, NULL, 0, &out, NULL), AAT_ERROR_UNSUPPORTED, "12", "D = 12");
    CHECK(out == NULL);
    expect_error(run_attention(ctx, q, NULL, k, NULL, 0, &out, NULL), AAT_ERROR_INVALID_ARGUMENT, "NULL", "NULL k");
    aat_tensor_destroy(q);
    aat_tensor_destroy(k);
  }

  /* several threads, one context, attention at once */
  {
    enum { threads = 4 };
    pthread_t ids[threads];
    worker workers[threads];
    int t;
    for (t = 0; t < threads; ++t) {
      workers[t].ctx = ctx;
      workers[t].seed = 100u + (unsigned)t;
      workers[t].failures = 0;
      CHECK(pthread_create(&ids[t], NULL, run_worker, &workers[t]) == 0);
    }
    for (t = 0; t < threads; ++t) {
      pthread_join(ids[t], NULL);
      failures += workers[t].failures;
    }
  }

  if (aat_context_check_validation(ctx) != AAT_OK) {
    fprintf(stderr, "%s\n", aat_last_error_message());
    ++failures;
  }
  aat_context_destroy(ctx);
  if (failures) {
    fprintf(stderr, "c_api: %d failure(s)\n", failures);
    return 1;
  }
  printf("c_api: all checks passed\n");
  return 0;
}
