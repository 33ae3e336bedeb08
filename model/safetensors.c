/* model/safetensors.c — validating mmap reader for safetensors files and shard sets. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/readfile.h"

#define ST_MAX_HEADER 100000000ull

/* Every dtype name of the format, with its width in bits. */
static const struct {
    const char *name;
    int bits;
    enum st_dtype dtype;
} dtypes[] = {
    {"F32", 32, ST_DTYPE_F32},         {"BF16", 16, ST_DTYPE_BF16},      {"F16", 16, ST_DTYPE_F16},
    {"I32", 32, ST_DTYPE_I32},         {"BOOL", 8, ST_DTYPE_OTHER},      {"U8", 8, ST_DTYPE_OTHER},
    {"I8", 8, ST_DTYPE_OTHER},         {"I16", 16, ST_DTYPE_OTHER},      {"U16", 16, ST_DTYPE_OTHER},
    {"U32", 32, ST_DTYPE_OTHER},       {"F64", 64, ST_DTYPE_OTHER},      {"I64", 64, ST_DTYPE_OTHER},
    {"U64", 64, ST_DTYPE_OTHER},       {"C64", 64, ST_DTYPE_OTHER},      {"F8_E4M3", 8, ST_DTYPE_OTHER},
    {"F8_E5M2", 8, ST_DTYPE_OTHER},    {"F8_E8M0", 8, ST_DTYPE_OTHER},   {"F8_E4M3FNUZ", 8, ST_DTYPE_OTHER},
    {"F8_E5M2FNUZ", 8, ST_DTYPE_OTHER}, {"F4", 4, ST_DTYPE_OTHER},       {"F6_E2M3", 6, ST_DTYPE_OTHER},
    {"F6_E3M2", 6, ST_DTYPE_OTHER},
};

/* ---- scalar conversions ---------------------------------------------------- */

float st_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float f16_decode(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, u;
    if (exp == 0) {
        float f = ldexpf((float)mant, -24);
        return sign ? -f : f;
    }
    if (exp == 31)
        u = sign | 0x7f800000u | (mant << 13);
    else
        u = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;
static void f16_table_init(void)
{
    for (uint32_t i = 0; i < 65536; i++)
        f16_table[i] = f16_decode((uint16_t)i);
}

float st_f16_to_f32(uint16_t h)
{
    pthread_once(&f16_once, f16_table_init);
    return f16_table[h];
}

uint16_t st_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

uint16_t st_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u)
        return sign | (x > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (x >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return sign | 0x7c00;
    if (x < 0x38800000u) /* below 2^-14: subnormal, f * 2^24 is exact, rint rounds to even */
        return sign | (uint16_t)lrintf(fabsf(f) * 16777216.0f);
    uint32_t mant = x & 0x7fffff, rem = mant & 0x1fff;
    uint32_t h = ((((x >> 23) - 127 + 15)) << 10) | (mant >> 13);
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return sign | (uint16_t)h;
}

/* ---- parsing --------------------------------------------------------------- */

static int dtype_lookup(const char *name, int *bits, enum st_dtype *dt)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, name)) {
            *bits = dtypes[i].bits;
            *dt = dtypes[i].dtype;
            return 0;
        }
    return -1;
}

static int json_uint(json_t *j, uint64_t *v)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return -1;
    *v = (uint64_t)json_integer_value(j);
    return 0;
}

static int cmp_offsets(const void *a, const void *b)
{
    const struct st_tensor *x = *(const struct st_tensor *const *)a, *y = *(const struct st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Parse one entry of the header into t (name set by the caller). */
static enum ss_status parse_entry(const char *path, const char *name, json_t *e, struct st_tensor *t,
                                  struct ss_error *err)
{
    if (!json_is_object(e))
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': header entry is not an object", path, name);
    json_t *jd = json_object_get(e, "dtype"), *js = json_object_get(e, "shape"),
           *jo = json_object_get(e, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo))
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': entry needs string 'dtype', arrays 'shape' and 'data_offsets'",
                       path, name);
    int bits;
    if (dtype_lookup(json_string_value(jd), &bits, &t->dtype))
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': unknown dtype '%.20s'", path, name, json_string_value(jd));
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", json_string_value(jd));
    if (json_array_size(js) > ST_MAX_DIMS)
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': %zu dimensions (at most %d supported)", path, name,
                       json_array_size(js), ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    uint64_t numel = 1;
    int overflow = 0;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t d;
        if (json_uint(json_array_get(js, i), &d))
            return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': shape[%d] is not a non-negative integer", path, name, i);
        t->shape[i] = (int64_t)d;
        if (d && numel > UINT64_MAX / d)
            overflow = 1;
        numel *= d;
    }
    uint64_t b, en;
    if (json_array_size(jo) != 2 || json_uint(json_array_get(jo, 0), &b) || json_uint(json_array_get(jo, 1), &en))
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': data_offsets must be two non-negative integers", path, name);
    if (en < b)
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': data_offsets [%llu, %llu) end before they begin", path,
                       name, (unsigned long long)b, (unsigned long long)en);
    t->begin = b;
    t->end = en;
    if (overflow || (numel && numel > UINT64_MAX / (uint64_t)bits))
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': shape overflows the size computation", path, name);
    uint64_t nbits = numel * (uint64_t)bits;
    if (nbits % 8)
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': %llu elements of %s do not fill whole bytes", path, name,
                       (unsigned long long)numel, t->dtype_name);
    if (nbits / 8 != en - b)
        return ss_fail(err, SS_ERR_INPUT,
                       "%s: tensor '%s': data_offsets span %llu bytes but dtype %s x shape needs %llu", path, name,
                       (unsigned long long)(en - b), t->dtype_name, (unsigned long long)(nbits / 8));
    return SS_OK;
}

/* __metadata__: null, or an object of strings (the reference reader's rule). */
static enum ss_status metadata_check(const char *path, json_t *val, struct ss_error *err)
{
    if (json_is_null(val)) /* the reference reads it as an optional map */
        return SS_OK;
    if (!json_is_object(val))
        return ss_fail(err, SS_ERR_INPUT, "%s: __metadata__ is not an object", path);
    const char *mk;
    json_t *mv;
    json_object_foreach(val, mk, mv) if (!json_is_string(mv))
        return ss_fail(err, SS_ERR_INPUT, "%s: __metadata__ value of '%s' is not a string", path, mk);
    return SS_OK;
}

/* Sorted by offsets, the tensors s->tensors[first..] of file f must tile [0, data length) exactly. */
static enum ss_status tiling_check(const struct st_set *s, int first, const struct st_file *f, struct ss_error *err)
{
    const char *path = f->path;
    int cnt = s->n_tensors - first;
    struct st_tensor **ord = malloc((cnt + 1) * sizeof *ord);
    if (!ord)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < cnt; i++)
        ord[i] = &s->tensors[first + i];
    qsort(ord, cnt, sizeof *ord, cmp_offsets);
    uint64_t pos = 0;
    enum ss_status st = SS_OK;
    for (int i = 0; i < cnt && !st; i++) {
        if (ord[i]->begin != pos)
            st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': data_offsets [%llu, %llu) %s (expected to begin at %llu)",
                         path, ord[i]->name, (unsigned long long)ord[i]->begin, (unsigned long long)ord[i]->end,
                         ord[i]->begin < pos ? "overlap the previous tensor" : "leave a hole before them",
                         (unsigned long long)pos);
        pos = ord[i]->end;
    }
    free(ord);
    if (!st && pos != f->size - f->data_off)
        st = ss_fail(err, SS_ERR_INPUT, "%s: tensor data ends at byte %llu but the file has %zu bytes (%s)", path,
                     (unsigned long long)(f->data_off + pos), f->size,
                     pos > f->size - f->data_off ? "truncated or out-of-range offsets" : "trailing bytes");
    return st;
}

/* The header's JSON of file f: its 8-byte little-endian length checked against the file. */
static enum ss_status header_load(struct st_file *f, json_t **out, struct ss_error *err)
{
    const char *path = f->path;
    *out = NULL;
    if (f->size < 8)
        return ss_fail(err, SS_ERR_INPUT, "%s: truncated: %zu bytes, a safetensors file has at least 8", path, f->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | f->map[i];
    if (n > ST_MAX_HEADER)
        return ss_fail(err, SS_ERR_INPUT, "%s: header length %llu exceeds the limit of 100000000 bytes", path,
                       (unsigned long long)n);
    if (n > f->size - 8)
        return ss_fail(err, SS_ERR_INPUT, "%s: truncated: header length %llu but only %zu bytes follow", path,
                       (unsigned long long)n, f->size - 8);
    if (n == 0 || f->map[8] != '{')
        return ss_fail(err, SS_ERR_INPUT, "%s: header does not start with '{'", path);
    f->data_off = 8 + (size_t)n;
    json_error_t je;
    json_t *h = json_loadb((const char *)f->map + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!h)
        return ss_fail(err, SS_ERR_INPUT, "%s: header is not valid JSON: %s (at byte %d)", path, je.text, je.position);
    if (!json_is_object(h)) {
        json_decref(h);
        return ss_fail(err, SS_ERR_INPUT, "%s: header is not a JSON object", path);
    }
    *out = h;
    return SS_OK;
}

/* Check the header of file index fi (already mapped) and append its tensors to s. */
static enum ss_status parse_header(struct st_set *s, int fi, struct ss_error *err)
{
    struct st_file *f = &s->files[fi];
    const char *path = f->path;
    json_t *h;
    enum ss_status st = header_load(f, &h, err);
    if (st)
        return st;
    size_t n_new = json_object_size(h);
    struct st_tensor *nt = realloc(s->tensors, (s->n_tensors + n_new + 1) * sizeof *nt);
    if (!nt) {
        json_decref(h);
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory for the tensor table", path);
    }
    s->tensors = nt;
    int first = s->n_tensors;
    const char *key;
    json_t *val;
    json_object_foreach(h, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if ((st = metadata_check(path, val, err)))
                break;
            continue;
        }
        struct st_tensor *t = &s->tensors[s->n_tensors];
        memset(t, 0, sizeof *t);
        t->file = fi;
        if ((st = parse_entry(path, key, val, t, err)))
            break;
        if (!(t->name = strdup(key))) {
            st = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        s->n_tensors++;
    }
    if (!st)
        st = tiling_check(s, first, f, err);
    json_decref(h);
    return st;
}

static enum ss_status add_file(struct st_set *s, const char *path, struct ss_error *err)
{
    struct st_file *nf = realloc(s->files, (s->n_files + 1) * sizeof *nf);
    if (!nf)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    s->files = nf;
    struct st_file *f = &s->files[s->n_files];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!(f->path = strdup(path)))
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    s->n_files++;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return ss_fail(err, errno == ENOENT ? SS_ERR_INPUT : SS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f->fd, &sb) || !S_ISREG(sb.st_mode))
        return ss_fail(err, SS_ERR_INPUT, "%s: not a regular file", path);
    f->size = (size_t)sb.st_size;
    if (f->size) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
        if (m == MAP_FAILED)
            return ss_fail(err, SS_ERR_IO, "%s: cannot mmap: %s", path, strerror(errno));
        f->map = m;
    }
    return parse_header(s, s->n_files - 1, err);
}

enum ss_status st_open_file(struct st_set *s, const char *path, struct ss_error *err)
{
    memset(s, 0, sizeof *s);
    enum ss_status st = add_file(s, path, err);
    if (st)
        st_close(s);
    return st;
}

static enum ss_status open_index(struct st_set *s, const char *dir, const char *ipath, struct ss_error *err)
{
    json_error_t je;
    char *text;
    size_t len;
    enum ss_status rs = readfile_all(ipath, READFILE_LIMIT_JSON, "safetensors index", &text, &len, err);
    if (rs)
        return rs;
    json_t *idx = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *wm, *seen_names = NULL;
    free(text);
    if (!idx)
        return ss_fail(err, SS_ERR_INPUT, "%s: not valid JSON: %s (line %d)", ipath, je.text, je.line);
    enum ss_status st = SS_OK;
    if (!json_is_object(idx) || !json_is_object(wm = json_object_get(idx, "weight_map"))) {
        st = ss_fail(err, SS_ERR_INPUT, "%s: missing object 'weight_map'", ipath);
        goto out;
    }
    const char *name, *prev = NULL;
    json_t *v;
    if (!(seen_names = json_object())) {
        st = ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", ipath);
        goto out;
    }
    /* Open each distinct shard once, in order of first mention. Linear in the tensors
     * (200k of them): consecutive entries naming the same shard skip the shard search. */
    json_object_foreach(wm, name, v) {
        if (!json_is_string(v) || strchr(json_string_value(v), '/') || !json_string_length(v)) {
            st = ss_fail(err, SS_ERR_INPUT, "%s: weight_map['%s'] is not a file name in the directory", ipath, name);
            goto out;
        }
        if (prev && !strcmp(prev, json_string_value(v)))
            continue;
        prev = json_string_value(v);
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(v));
        int seen = 0;
        for (int i = 0; i < s->n_files && !seen; i++)
            seen = !strcmp(s->files[i].path, path);
        if (!seen && (st = add_file(s, path, err))) {
            if (st == SS_ERR_INPUT && strstr(err ? err->msg : "", "cannot open"))
                ss_prefix(err, "%s: shard named by the index", ipath);
            goto out;
        }
    }
    /* Each tensor lives where the map says, exactly once. */
    for (int i = 0; i < s->n_tensors; i++) {
        const struct st_tensor *t = &s->tensors[i];
        json_t *where = json_object_get(wm, t->name);
        const char *fp = s->files[t->file].path;
        if (!where || strcmp(json_string_value(where), strrchr(fp, '/') + 1)) {
            st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' is not mapped to this shard by %s", fp, t->name, ipath);
            goto out;
        }
        if (json_object_get(seen_names, t->name) || json_object_set_new(seen_names, t->name, json_true())) {
            st = ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s' appears twice", fp, t->name);
            goto out;
        }
    }
    /* every tensor is mapped and unique, so the map names a missing one only when sizes differ */
    if (json_object_size(seen_names) != json_object_size(wm))
        json_object_foreach(wm, name, v) if (!json_object_get(seen_names, name)) {
            st = ss_fail(err, SS_ERR_INPUT, "%s/%s: tensor '%s' (named by the index) is missing", dir,
                         json_string_value(v), name);
            goto out;
        }
out:
    json_decref(seen_names);
    json_decref(idx);
    return st;
}

enum ss_status st_open_dir(struct st_set *s, const char *dir, struct ss_error *err)
{
    memset(s, 0, sizeof *s);
    char path[4352];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    enum ss_status st;
    if (access(path, F_OK) == 0) {
        st = open_index(s, dir, path, err);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (access(path, F_OK) != 0)
            st = ss_fail(err, SS_ERR_INPUT, "%s: no model.safetensors nor model.safetensors.index.json", dir);
        else
            st = add_file(s, path, err);
    }
    if (st)
        st_close(s);
    return st;
}

void st_close(struct st_set *s)
{
    for (int i = 0; i < s->n_files; i++) {
        if (s->files[i].map)
            munmap(s->files[i].map, s->files[i].size);
        if (s->files[i].fd >= 0)
            close(s->files[i].fd);
        free(s->files[i].path);
    }
    for (int i = 0; i < s->n_tensors; i++)
        free(s->tensors[i].name);
    free(s->files);
    free(s->tensors);
    memset(s, 0, sizeof *s);
}

const struct st_tensor *st_find(const struct st_set *s, const char *name)
{
    for (int i = 0; i < s->n_tensors; i++)
        if (!strcmp(s->tensors[i].name, name))
            return &s->tensors[i];
    return NULL;
}

uint64_t st_numel(const struct st_tensor *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (uint64_t)t->shape[i];
    return n;
}

const char *st_path(const struct st_set *s, const struct st_tensor *t)
{
    return s->files[t->file].path;
}

/* ---- conversion ------------------------------------------------------------ */

/* Drop the mapped pages of [a, b) of file f from our resident set (they are
 * file-backed and read-only: a later access would simply read them again). */
static void release(const struct st_file *f, size_t a, size_t b)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t lo = a / pg * pg, hi = (b + pg - 1) / pg * pg;
    if (hi > f->size)
        hi = f->size;
    if (hi > lo)
        madvise(f->map + lo, hi - lo, MADV_DONTNEED);
}

/* BF16 -> float32 bits: the 16 stored bits become the high half. Vectorized
 * (this loop is where a forward over BF16 weights spends its conversion time;
 * -O2's cost model leaves it scalar, at ~1 ns per value). */
__attribute__((optimize("O3"))) static size_t bf16_to_f32(const uint8_t *s8, size_t n, uint32_t *d)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s8 + 2 * i, 2);
        d[i] = (uint32_t)h << 16;
        bad += (h & 0x7f80u) == 0x7f80u;
    }
    return bad;
}

/* F32 copied out of the (possibly unaligned) map, counting NaN/Inf; vectorized too. */
__attribute__((optimize("O3"))) static size_t f32_copy(const uint8_t *s8, size_t n, uint32_t *d)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, s8 + 4 * i, 4);
        d[i] = u;
        bad += (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad;
}

/* One pass: the NaN/Inf test is done on the stored bits (exponent all ones), so the
 * loops stay simple enough for the compiler to vectorize (memcpy per element: the
 * source may be unaligned). */
size_t st_convert_f32(enum st_dtype dt, const void *src, size_t n, float *dst)
{
    const uint8_t *s8 = src;
    uint32_t *d = (uint32_t *)dst;
    size_t bad = 0;
    if (dt == ST_DTYPE_F32) {
        bad = f32_copy(s8, n, d);
    } else if (dt == ST_DTYPE_BF16) {
        bad = bf16_to_f32(s8, n, d);
    } else {
        pthread_once(&f16_once, f16_table_init);
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s8 + 2 * i, 2);
            dst[i] = f16_table[h];
            bad += (h & 0x7c00u) == 0x7c00u;
        }
    }
    return bad;
}

void st_prefetch(const struct st_set *s, const struct st_tensor *t)
{
    const struct st_file *f = &s->files[t->file];
    long pg = sysconf(_SC_PAGESIZE);
    size_t a = f->data_off + t->begin, lo = a / pg * pg, hi = f->data_off + t->end;
    if (hi > lo)
        madvise(f->map + lo, hi - lo, MADV_WILLNEED);
}

void st_read_raw(const struct st_set *s, const struct st_tensor *t, void *dst)
{
    const struct st_file *f = &s->files[t->file];
    memcpy(dst, f->map + f->data_off + t->begin, t->end - t->begin);
}

enum ss_status st_read_f32(const struct st_set *s, const struct st_tensor *t, float *dst,
                           size_t *n_nonfinite, struct ss_error *err)
{
    const struct st_file *f = &s->files[t->file];
    if (t->dtype != ST_DTYPE_F32 && t->dtype != ST_DTYPE_BF16 && t->dtype != ST_DTYPE_F16)
        return ss_fail(err, SS_ERR_INPUT, "%s: tensor '%s': unsupported dtype %s (F32, BF16 and F16 are)", f->path,
                       t->name, t->dtype_name);
    const uint8_t *src = f->map + f->data_off + t->begin;
    uint64_t n = st_numel(t);
    size_t bad = 0, esz = t->dtype == ST_DTYPE_F32 ? 4 : 2;
    enum { CHUNK = 1 << 22 }; /* elements per step; pages released after each */
    for (uint64_t c0 = 0; c0 < n; c0 += CHUNK) {
        uint64_t c1 = c0 + CHUNK < n ? c0 + CHUNK : n;
        bad += st_convert_f32(t->dtype, src + c0 * esz, c1 - c0, dst + c0);
        release(f, f->data_off + t->begin + c0 * esz, f->data_off + t->begin + c1 * esz);
    }
    if (n_nonfinite)
        *n_nonfinite = bad;
    return SS_OK;
}
