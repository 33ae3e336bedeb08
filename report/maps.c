/* report/maps.c — the explorer's data: for each run with attention dumps, the maps
 * of one sequence (every dumped layer and head, the first map_tokens positions) and
 * its tokens as text, as JSON (c->data) that page.js reads.
 *
 * A map's causal half, rows q = 0..N-1 and keys k = 0..q, is stored per head as
 * 16-bit codes on a log scale (maps_encode: 0 = below 1e-9, else 1e-9 .. 1 in
 * relative steps of 3.2e-4, so a value is off by at most 1.6e-4 of itself),
 * little-endian, base64: 2.7 bytes per probability. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runfile/schema.h"
#include "report_int.h"

#define CODE_DECADES 9.0 /* codes span 1e-9 .. 1 */
#define CODE_MAX 65535.0
#define MAX_DATA_BYTES (256u << 20) /* encoded maps of the whole page */

unsigned maps_encode(double p)
{
    if (!(p >= 1e-9)) /* also NaN */
        return 0;
    double c = round(CODE_MAX * (1.0 + log10(p > 1 ? 1 : p) / CODE_DECADES));
    return c < 1 ? 1 : (unsigned)c;
}

double maps_decode(unsigned code)
{
    return code ? pow(10.0, CODE_DECADES * (code / CODE_MAX - 1.0)) : 0.0;
}

char *maps_base64(const unsigned char *b, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *s = malloc((n + 2) / 3 * 4 + 1), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
        *p++ = al[v >> 18 & 63];
        *p++ = al[v >> 12 & 63];
        *p++ = i + 1 < n ? al[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? al[v & 63] : '=';
    }
    *p = 0;
    return s;
}

/* s with every byte that is not part of valid UTF-8 replaced by U+FFFD (malloc'd). */
static char *utf8_clean(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(3 * n + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && i + len <= n && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (ok && len == 3) { /* no overlong forms, no surrogates */
            unsigned c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
        }
        if (ok && len == 4) {
            unsigned c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (ok) {
            memcpy(p, s + i, len);
            p += len;
            i += len;
        } else {
            memcpy(p, "\xEF\xBF\xBD", 3);
            p += 3;
            i++;
        }
    }
    *p = 0;
    return o;
}

/* The tokens of the sequence as text ("#id" when the run has no /token_text). */
static enum ss_status tokens_json(struct runfile *rf, int seq, int N, json_t *arr, struct ss_error *err)
{
    char **pieces = NULL;
    int n = 0;
    struct ss_error e;
    if (runfile_token_text(rf, seq, &pieces, &n, &e) == SS_OK && n >= N) {
        for (int i = 0; i < N; i++) {
            char *t = utf8_clean(pieces[i]);
            if (!t || json_array_append_new(arr, json_string(t))) {
                free(t);
                runfile_strings_free(pieces, n);
                return ss_fail(err, SS_ERR_NOMEM, "out of memory");
            }
            free(t);
        }
        runfile_strings_free(pieces, n);
        return SS_OK;
    }
    runfile_strings_free(pieces, n);
    struct rf_array ids;
    enum ss_status s = runfile_read_slab(rf, rf_path(RF_TOKENS), (int64_t[]){seq, 0}, (int64_t[]){1, N}, &ids, err);
    if (s)
        return s;
    for (int i = 0; i < N; i++) {
        char b[32];
        snprintf(b, sizeof b, "#%.0f", ids.data[i]);
        json_array_append_new(arr, json_string(b));
    }
    rf_array_free(&ids);
    return SS_OK;
}

/* Dumped heads of a layer (runfile_dumped_heads) appended to arr. */
static enum ss_status dumped_heads(struct runfile *rf, const char *dset, int n, int H, json_t *arr,
                                   struct ss_error *err)
{
    int *heads = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!heads)
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    enum ss_status s = runfile_dumped_heads(rf, dset, n, H, heads, err);
    for (int k = 0; !s && k < n; k++)
        json_array_append_new(arr, json_integer(heads[k]));
    free(heads);
    return s;
}

/* One layer: shape check, each head's causal half encoded. */
static enum ss_status layer_json(struct report_ctx *c, int i, int l, const char *dset, int N, json_t *layers,
                                 size_t *total, struct ss_error *err)
{
    struct runfile *rf = c->rf[i];
    const struct analyze_run *r = &c->runs[i];
    int nd;
    int64_t sh[4];
    enum ss_status s = runfile_shape(rf, dset, &nd, sh, err);
    if (s)
        return s;
    if (nd != 4 || sh[2] != r->context_length || sh[3] != r->context_length || sh[1] < 1 || sh[1] > r->n_heads)
        return ss_fail(err, SS_ERR_INPUT, "%s: %s is not [seq, head, %d, %d]", r->path, dset, r->context_length,
                       r->context_length);
    if (c->o->seq >= sh[0])
        return ss_fail(err, SS_ERR_INPUT, "%s: --seq %d out of range: %s has %lld sequences", r->path, c->o->seq,
                       dset, (long long)sh[0]);
    int Hd = (int)sh[1];
    size_t tri = (size_t)N * (N + 1) / 2, bytes = (size_t)Hd * tri * 2;
    *total += bytes;
    if (*total > MAX_DATA_BYTES)
        return ss_fail(err, SS_ERR_INPUT, "%s: the attention maps would take more than %u MiB of the page: "
                       "give a smaller --map-tokens (now %d)", r->path, MAX_DATA_BYTES >> 20, N);
    json_t *lo = json_object(), *heads = json_array();
    json_object_set_new(lo, "layer", json_integer(l));
    json_object_set_new(lo, "heads", heads);
    json_array_append_new(layers, lo);
    s = dumped_heads(rf, dset, Hd, r->n_heads, heads, err);
    unsigned char *codes = s ? NULL : malloc(bytes);
    if (!s && !codes)
        s = ss_fail(err, SS_ERR_NOMEM, "out of memory");
    for (int h = 0; h < Hd && !s; h++) {
        struct rf_array a;
        s = runfile_read_slab(rf, dset, (int64_t[]){c->o->seq, h, 0, 0}, (int64_t[]){1, 1, N, N}, &a, err);
        if (s)
            break;
        unsigned char *p = codes + (size_t)h * tri * 2;
        for (int q = 0; q < N; q++)
            for (int k = 0; k <= q; k++) {
                unsigned v = maps_encode(a.data[(size_t)q * N + k]);
                *p++ = (unsigned char)(v & 255);
                *p++ = (unsigned char)(v >> 8);
            }
        rf_array_free(&a);
    }
    char *b64 = s ? NULL : maps_base64(codes, bytes);
    if (!s && !b64)
        s = ss_fail(err, SS_ERR_NOMEM, "out of memory");
    if (!s)
        json_object_set_new(lo, "maps", json_string(b64));
    free(b64);
    free(codes);
    return s;
}

static enum ss_status run_json(struct report_ctx *c, int i, json_t *runs, size_t *total, struct ss_error *err)
{
    const struct analyze_run *r = &c->runs[i];
    int N = r->context_length < c->o->map_tokens ? r->context_length : c->o->map_tokens;
    json_t *ro = json_object(), *layers = json_array(), *tokens = json_array();
    json_array_append_new(runs, ro);
    char *label = utf8_clean(r->label);
    json_object_set_new(ro, "label", json_string(label && *label ? label : "run"));
    free(label);
    json_object_set_new(ro, "seq", json_integer(c->o->seq));
    json_object_set_new(ro, "positions", json_integer(r->context_length));
    json_object_set_new(ro, "n", json_integer(N));
    json_object_set_new(ro, "tokens", tokens);
    json_object_set_new(ro, "layers", layers);
    enum ss_status s = SS_OK;
    char dset[64];
    for (int l = 0; l < r->n_layers && !s; l++) {
        rf_layer_path(RF_ATTENTION, l, r->n_layers, dset, sizeof dset);
        if (runfile_has(c->rf[i], dset))
            s = layer_json(c, i, l, dset, N, layers, total, err);
    }
    if (!s && json_array_size(layers))
        s = tokens_json(c->rf[i], c->o->seq, N, tokens, err);
    return s;
}

enum ss_status maps_collect(struct report_ctx *c, struct ss_error *err)
{
    json_t *data = json_object(), *runs = json_array();
    if (!data || !runs) {
        json_decref(data);
        json_decref(runs);
        return ss_fail(err, SS_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(data, "code_decades", json_real(CODE_DECADES));
    json_object_set_new(data, "runs", runs);
    size_t total = 0;
    enum ss_status s = SS_OK;
    for (int i = 0; i < c->n && !s; i++) {
        s = run_json(c, i, runs, &total, err);
        json_t *last = json_array_get(runs, json_array_size(runs) - 1);
        c->has_maps[i] = !s && json_array_size(json_object_get(last, "layers")) > 0;
        if (!c->has_maps[i])
            json_array_remove(runs, json_array_size(runs) - 1);
        c->res->explorer_runs += c->has_maps[i];
    }
    if (s || !json_array_size(runs)) {
        json_decref(data);
        return s;
    }
    c->data = data;
    return SS_OK;
}
