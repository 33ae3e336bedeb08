/* tests/test_safetensors.c — every rule of the reference reader, each violation
 * rejected with the file named; unaligned tensors; dtype conversions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/safetensors.h"
#include "test_util.h"

/* Write [u64 header length][header][n_data bytes 0..] to dir/name; returns the path. */
static const char *write_raw(const char *dir, const char *name, uint64_t hlen, const char *header, size_t n_data)
{
    static char path[8][600];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 600, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(hlen >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < n_data; i++)
        fputc((int)(i * 37 + 11) & 0xff, f);
    fclose(f);
    return p;
}

static const char *write_st(const char *dir, const char *name, const char *header, size_t n_data)
{
    return write_raw(dir, name, strlen(header), header, n_data);
}

/* Opening must fail with SS_ERR_INPUT, the path and `needle` in the message. */
static void expect_reject(const char *path, const char *needle)
{
    struct st_set s;
    struct ss_error e = {0};
    enum ss_status st = st_open_file(&s, path, &e);
    printf("  %s -> %s\n", strrchr(path, '/') + 1, e.msg);
    CU_ASSERT_EQUAL(st, SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, needle));
    CU_ASSERT_PTR_NULL(strchr(e.msg, '\n'));
}

static void test_rejects(void)
{
    const char *d = test_tmpdir("st-bad");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char p[600];
    snprintf(p, sizeof p, "%s/short.safetensors", d);
    FILE *f = fopen(p, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    expect_reject(p, "truncated");
    snprintf(p, sizeof p, "%s/empty.safetensors", d);
    fclose(fopen(p, "wb"));
    expect_reject(p, "truncated");
    expect_reject(write_raw(d, "huge.safetensors", 100000001ull, "{}", 0), "exceeds the limit");
    expect_reject(write_raw(d, "past_end.safetensors", 4000, "{}", 0), "truncated");
    expect_reject(write_st(d, "not_json.safetensors", "{\"a\": ", 0), "not valid JSON");
    expect_reject(write_st(d, "array.safetensors", "[1, 2]  ", 0), "does not start with '{'");
    expect_reject(write_st(d, "lead_space.safetensors", " {}", 0), "does not start with '{'");
    expect_reject(write_st(d, "dup.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                  "not valid JSON");
    expect_reject(write_st(d, "meta.safetensors", "{\"__metadata__\":{\"k\":1}}", 0), "__metadata__");
    expect_reject(write_st(d, "meta2.safetensors", "{\"__metadata__\":[\"k\"]}", 0), "__metadata__");
    expect_reject(write_st(d, "entry.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "'a'");
    expect_reject(write_st(d, "dtype.safetensors", "{\"a\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                  "unknown dtype 'F7'");
    expect_reject(write_st(d, "negshape.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                  "shape[0]");
    expect_reject(write_st(d, "size.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12),
                  "needs 16");
    expect_reject(write_st(d, "overflow.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],"
                           "\"data_offsets\":[0,16]}}", 16),
                  "overflow");
    expect_reject(write_st(d, "backwards.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4),
                  "end before");
    expect_reject(write_st(d, "overlap.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
                  "overlap");
    expect_reject(write_st(d, "hole.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12),
                  "hole");
    expect_reject(write_st(d, "first_hole.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                  "hole");
    expect_reject(write_st(d, "trailing.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9),
                  "trailing bytes");
    expect_reject(write_st(d, "cut.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10),
                  "truncated or out-of-range");
    expect_reject(write_st(d, "subbyte.safetensors",
                           "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2),
                  "whole bytes");
    /* a missing file names itself */
    struct st_set s;
    struct ss_error e = {0};
    snprintf(p, sizeof p, "%s/absent.safetensors", d);
    CU_ASSERT_EQUAL(st_open_file(&s, p, &e), SS_ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, p));
}

static void test_valid_and_unaligned(void)
{
    const char *d = test_tmpdir("st-ok");
    /* U8[3] first: the F32 tensor starts at data offset 3 and the header length is odd */
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                    "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]},"
                    "\"h\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[11,13]},"
                    "\"z\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[13,13]},"
                    "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[13,21]}}";
    char path[600];
    snprintf(path, sizeof path, "%s/ok.safetensors", d);
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(h);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(n >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(h, 1, n, f);
    uint8_t u8[3] = {1, 2, 3};
    float fv[2] = {1.5f, -2.25f};
    uint16_t bv = st_f32_to_bf16(3.0f);
    int64_t sv = 7;
    fwrite(u8, 1, 3, f), fwrite(fv, 4, 2, f), fwrite(&bv, 2, 1, f), fwrite(&sv, 8, 1, f);
    fclose(f);
    struct st_set s;
    struct ss_error e = {0};
    CU_ASSERT_EQUAL_FATAL(st_open_file(&s, path, &e), SS_OK);
    CU_ASSERT_EQUAL(s.n_tensors, 5);
    const struct st_tensor *t = st_find(&s, "f");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    float out[2];
    size_t bad = 9;
    CU_ASSERT_EQUAL(st_read_f32(&s, t, out, &bad, &e), SS_OK);
    CU_ASSERT(out[0] == 1.5f && out[1] == -2.25f && bad == 0);
    CU_ASSERT_EQUAL(st_read_f32(&s, st_find(&s, "h"), out, &bad, &e), SS_OK);
    CU_ASSERT(out[0] == 3.0f);
    CU_ASSERT_EQUAL(st_numel(st_find(&s, "s")), 1);
    CU_ASSERT_EQUAL(st_numel(st_find(&s, "z")), 0);
    /* unsupported dtypes are refused by name when converted */
    CU_ASSERT_EQUAL(st_read_f32(&s, st_find(&s, "s"), out, &bad, &e), SS_ERR_INPUT);
    printf("  %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "I64"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "'s'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
    st_close(&s);
}

static void test_conversions(void)
{
    /* F16: 1.0, -2.0, 65504 (max), smallest subnormal, +inf, NaN */
    CU_ASSERT(st_f16_to_f32(0x3c00) == 1.0f);
    CU_ASSERT(st_f16_to_f32(0xc000) == -2.0f);
    CU_ASSERT(st_f16_to_f32(0x7bff) == 65504.0f);
    CU_ASSERT(st_f16_to_f32(0x0001) == ldexpf(1, -24));
    CU_ASSERT(st_f16_to_f32(0x03ff) == ldexpf(1023, -24));
    CU_ASSERT(isinf(st_f16_to_f32(0x7c00)));
    CU_ASSERT(isnan(st_f16_to_f32(0x7e00)));
    /* BF16 */
    CU_ASSERT(st_bf16_to_f32(0x3f80) == 1.0f);
    CU_ASSERT(st_bf16_to_f32(0xc0a0) == -5.0f);
    /* round to nearest even, both ways, and the round trip of every F16 value */
    CU_ASSERT_EQUAL(st_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);           /* tie to even (down) */
    CU_ASSERT_EQUAL(st_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82);       /* tie to even (up) */
    CU_ASSERT_EQUAL(st_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);
    CU_ASSERT_EQUAL(st_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
    CU_ASSERT_EQUAL(st_f32_to_f16(70000.0f), 0x7c00);
    CU_ASSERT_EQUAL(st_f32_to_f16(65519.0f), 0x7bff);
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = st_f16_to_f32((uint16_t)h);
        if (!isnan(f) && st_f32_to_f16(f) != h)
            bad++;
    }
    printf("  f16 values that do not round-trip: %d\n", bad);
    CU_ASSERT_EQUAL(bad, 0);
}

SS_SUITE(safetensors)
{
    CU_pSuite s = CU_add_suite("safetensors", NULL, NULL);
    CU_add_test(s, "rule violations rejected with the file named", test_rejects);
    CU_add_test(s, "valid file, unaligned tensors, zero-size and 0-rank", test_valid_and_unaligned);
    CU_add_test(s, "F16/BF16 conversions", test_conversions);
}
