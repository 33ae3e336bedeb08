/* tests/test_moe.c — the mixture-of-experts block (model/moe.h) and MXFP4 decoding
 * (model/mxfp4.h) against transformers 5.17's own modules, block by block
 * (tests/fixtures/moe_blocks/, written by tests/fixtures/gen_moe.py): router logits,
 * expert choices, router weights and the block output of Qwen3MoeSparseMoeBlock
 * (norm_topk_prob true and false), MixtralSparseMoeBlock and GptOssMLP; MXFP4
 * values element by element against convert_moe_packed_tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/moe.h"
#include "../model/mxfp4.h"
#include "../model/safetensors.h"
#include "test_util.h"

#define MOE_DIR "tests/fixtures/moe_blocks/"

/* The tensor `name` of s as float32 (malloc'd), or NULL with a test failure. */
static float *moe_tensor(const struct st_set *s, const char *name, size_t want)
{
    struct ss_error err = {0};
    const struct st_tensor *t = st_find(s, name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(st_numel(t), want);
    float *v = malloc(sizeof(float) * want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    if (t->dtype == ST_DTYPE_I32) {
        int32_t *iv = malloc(sizeof(int32_t) * want);
        st_read_raw(s, t, iv);
        for (size_t i = 0; i < want; i++)
            v[i] = (float)iv[i];
        free(iv);
    } else
        CU_ASSERT_EQUAL_FATAL(st_read_f32(s, t, v, NULL, &err), SS_OK);
    return v;
}

/* dst[E, b, a] = src[E, a, b] */
static void transpose_experts(float *dst, const float *src, int E, int a, int b)
{
    for (int e = 0; e < E; e++)
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                dst[((size_t)e * b + j) * a + i] = src[((size_t)e * a + i) * b + j];
}

static void check_block(const char *file, struct moe_config cfg, int gpt_oss)
{
    enum { T = 7 };
    int H = cfg.hidden, E = cfg.n_experts, I = cfg.ffn, K = cfg.top_k;
    char path[256];
    struct st_set s = {0};
    struct ss_error err = {0};
    snprintf(path, sizeof path, MOE_DIR "%s.safetensors", file);
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s, path, &err), SS_OK);
    float *x = moe_tensor(&s, "x", (size_t)T * H), *y = moe_tensor(&s, "y", (size_t)T * H);
    float *rw = moe_tensor(&s, gpt_oss ? "router.weight" : "gate.weight", (size_t)E * H);
    float *rb = gpt_oss ? moe_tensor(&s, "router.bias", E) : NULL;
    float *gu = moe_tensor(&s, "experts.gate_up_proj", (size_t)E * 2 * I * H);
    float *dn = moe_tensor(&s, "experts.down_proj", (size_t)E * H * I);
    float *gub = gpt_oss ? moe_tensor(&s, "experts.gate_up_proj_bias", (size_t)E * 2 * I) : NULL;
    float *dnb = gpt_oss ? moe_tensor(&s, "experts.down_proj_bias", (size_t)E * H) : NULL;
    float *ref_logits = moe_tensor(&s, "router.0", (size_t)T * E), *ref_w = moe_tensor(&s, "router.1", (size_t)T * K);
    float *ref_idx = moe_tensor(&s, "router.2", (size_t)T * K);
    if (gpt_oss) { /* GptOssExperts stores [E, in, out]: the [out, in] views need a transpose */
        float *t1 = malloc(sizeof(float) * (size_t)E * 2 * I * H), *t2 = malloc(sizeof(float) * (size_t)E * H * I);
        transpose_experts(t1, gu, E, H, 2 * I);
        transpose_experts(t2, dn, E, I, H);
        free(gu);
        free(dn);
        gu = t1;
        dn = t2;
    }
    struct weight wgu[16], wdn[16];
    for (int e = 0; e < E; e++) {
        wgu[e] = weight_f32(gu + (size_t)e * 2 * I * H, 2 * I, H);
        wdn[e] = weight_f32(dn + (size_t)e * H * I, H, I);
    }
    struct moe_weights mw = {weight_f32(rw, E, H), rb, wgu, gub, wdn, dnb};
    float logits[T * 16], probs[T * 16], w[T * 4], out[T * 64], out3[T * 64];
    int idx[T * 4], idx_diff = 0, distinct_first = 0;
    struct linear_exec ex1 = {1, NULL, 0}, ex3 = {3, NULL, 0};
    linear_forward(logits, x, &mw.router, rb, T, &ex1);
    moe_route(&cfg, logits, T, probs, idx, w);
    for (int i = 0; i < T * K; i++)
        idx_diff += idx[i] != (int)ref_idx[i];
    for (int t = 1; t < T; t++)
        distinct_first |= idx[t * K] != idx[0];
    CU_ASSERT_EQUAL_FATAL(moe_experts_forward(out, x, &cfg, &mw, idx, w, T, &ex1, &err), SS_OK);
    CU_ASSERT_EQUAL_FATAL(moe_experts_forward(out3, x, &cfg, &mw, idx, w, T, &ex3, &err), SS_OK);
    double dl = test_max_abs_diff(logits, ref_logits, (size_t)T * E), dw = test_max_abs_diff(w, ref_w, (size_t)T * K);
    double dy = test_max_abs_diff(out, y, (size_t)T * H);
    printf("\n    %-16s router logits %.2e, weights %.2e, choices differing %d/%d, output %.2e", file, dl, dw,
           idx_diff, T * K, dy);
    CU_ASSERT(distinct_first);  /* the fixture routes tokens differently */
    CU_ASSERT(dl <= 1e-5);
    CU_ASSERT(dw <= 1e-5);
    CU_ASSERT_EQUAL(idx_diff, 0);
    CU_ASSERT(dy <= 1e-5);
    CU_ASSERT(!memcmp(out, out3, sizeof(float) * (size_t)T * H));
    free(x), free(y), free(rw), free(rb), free(gu), free(dn), free(gub), free(dnb);
    free(ref_logits), free(ref_w), free(ref_idx);
    st_close(&s);
}

static void test_qwen3_moe(void)
{
    struct moe_config c = {6, 2, 16, 8, MOE_ROUTER_SOFTMAX_TOPK, 1, MOE_GLU_SWIGLU, 0, 0};
    check_block("qwen3_moe_norm1", c, 0);
    c.norm_topk = 0;
    check_block("qwen3_moe_norm0", c, 0);
}

static void test_mixtral(void)
{
    struct moe_config c = {6, 2, 16, 8, MOE_ROUTER_SOFTMAX_TOPK, 1, MOE_GLU_SWIGLU, 0, 0};
    check_block("mixtral", c, 0);
}

static void test_gpt_oss(void)
{
    /* GptOssExperts fixes alpha 1.702 and limit 7.0 (config's swiglu_limit is not read in 5.17) */
    struct moe_config c = {6, 2, 16, 8, MOE_ROUTER_TOPK_SOFTMAX, 0, MOE_GLU_CLAMPED, 1.702f, 7.0f};
    check_block("gpt_oss_mlp", c, 1);
}

static void test_mxfp4(void)
{
    enum { E = 3, R = 5, G = 4 };
    struct st_set s = {0};
    struct ss_error err = {0};
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s, MOE_DIR "mxfp4.safetensors", &err), SS_OK);
    const struct st_tensor *tb = st_find(&s, "blocks"), *ts = st_find(&s, "scales");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ts);
    CU_ASSERT_EQUAL_FATAL(tb->end - tb->begin, (uint64_t)E * R * G * 16);
    CU_ASSERT_EQUAL_FATAL(ts->end - ts->begin, (uint64_t)E * R * G);
    uint8_t blocks[E * R * G * 16], scales[E * R * G];
    st_read_raw(&s, tb, blocks);
    st_read_raw(&s, ts, scales);
    /* transformers returns [E, G*32, R] (transposed to [in, out]); ours is [out, in] rows */
    float *ref = moe_tensor(&s, "dequant", (size_t)E * R * G * 32), row[G * 32];
    size_t mismatches = 0;
    double dmax = 0;
    for (int e = 0; e < E; e++)
        for (int r = 0; r < R; r++) { /* one row at a time: the slice-by-slice path */
            mxfp4_rows_f32(blocks + (size_t)e * R * G * 16, scales + (size_t)e * R * G, G, r, 1, row);
            for (int j = 0; j < G * 32; j++) {
                float want = ref[((size_t)e * G * 32 + j) * R + r];
                double d = row[j] > want ? row[j] - want : want - row[j];
                dmax = d > dmax ? d : dmax;
                mismatches += memcmp(&row[j], &want, sizeof(float)) != 0;
            }
        }
    printf("\n    mxfp4: %d values, max diff %.1e, bitwise mismatches %zu", E * R * G * 32, dmax, mismatches);
    CU_ASSERT_EQUAL(mismatches, 0);
    /* the weight path: an MXFP4 struct weight in linear_forward == the dequantized float32 matrix */
    enum { T = 3 };
    float x[T * G * 32], w32[R * G * 32], y4[T * R], y32[T * R];
    struct linear_exec ex = {2, malloc(sizeof(float) * 2 * LINEAR_SLICE * G * 32), LINEAR_SLICE * G * 32};
    for (int i = 0; i < T * G * 32; i++)
        x[i] = (float)((i * 37) % 11) - 5.0f;
    size_t lin_mismatch = 0;
    for (int e = 0; e < E; e++) {
        struct weight w4 = weight_mxfp4(blocks + (size_t)e * R * G * 16, scales + (size_t)e * R * G, R, G * 32);
        for (int r = 0; r < R; r++)
            for (int j = 0; j < G * 32; j++)
                w32[r * G * 32 + j] = ref[((size_t)e * G * 32 + j) * R + r];
        struct weight wf = weight_f32(w32, R, G * 32);
        linear_forward(y4, x, &w4, NULL, T, &ex);
        linear_forward(y32, x, &wf, NULL, T, &ex);
        lin_mismatch += memcmp(y4, y32, sizeof y4) != 0;
    }
    printf(", linear_forward over MXFP4 weights vs dequantized float32: %zu of %d experts differ", lin_mismatch, E);
    CU_ASSERT_EQUAL(lin_mismatch, 0);
    free(ex.scratch);
    free(ref);
    st_close(&s);
}

/* Every byte under every E8M0 scale 0..255 equals ldexp(e2m1, scale - 127), which is how
 * integrations/mxfp4.py computes it (the fixture covers scales 118..135 only). */
static void test_mxfp4_all_scales(void)
{
    static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    uint8_t blocks[256 * 16], scales[256 * 16 / 16];
    float row[32 * 16];
    size_t mismatches = 0;
    for (int s = 0; s < 256; s++) {
        for (int i = 0; i < 256; i++)
            blocks[i] = (uint8_t)i;
        memset(scales, s, sizeof scales);
        mxfp4_rows_f32(blocks, scales, 16, 0, 1, row); /* one row of 16 groups = the 256 byte values */
        for (int i = 0; i < 256; i++) {
            float lo = ldexpf(e2m1[i & 15], s - 127), hi = ldexpf(e2m1[i >> 4], s - 127);
            mismatches += memcmp(&row[2 * i], &lo, 4) != 0 || memcmp(&row[2 * i + 1], &hi, 4) != 0;
        }
    }
    printf("\n    mxfp4: 256 bytes x 256 scales, mismatches against ldexp %zu", mismatches);
    CU_ASSERT_EQUAL(mismatches, 0);
}

SS_SUITE(moe)
{
    CU_pSuite s = CU_add_suite("moe", NULL, NULL);
    CU_add_test(s, "qwen3_moe block (norm_topk_prob true/false) matches transformers", test_qwen3_moe);
    CU_add_test(s, "mixtral block matches transformers", test_mixtral);
    CU_add_test(s, "gpt_oss MLP (biases, interleaved clamped SwiGLU) matches transformers", test_gpt_oss);
    CU_add_test(s, "MXFP4 rows equal transformers' dequantization bit for bit", test_mxfp4);
    CU_add_test(s, "MXFP4: every byte under every scale equals ldexp", test_mxfp4_all_scales);
}
