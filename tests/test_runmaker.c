/* tests/test_runmaker.c — see test_runmaker.h. Plain HDF5 C API + H5DS, no
 * probes/ code, so it checks the reader against the schema, not against the writer. */
#include "test_runmaker.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SINK_KEYS 4
#define RANKS 5
#define ACT_RANKS 10
#define GATE_BINS 50
#define STREAMS 4

void test_run_spec_default(struct test_run_spec *s)
{
    memset(s, 0, sizeof *s);
    s->n_layers = 2;
    s->n_heads = 2;
    s->n_kv_heads = 1;
    s->head_dim = 4;
    s->hidden = 8;
    s->vocab = 64;
    s->T = 8;
    s->n_seqs = 2;
    s->gate_kind = "none";
    s->gate_mode = "native";
    s->bos = "none";
    s->model_path = "synthetic/tiny";
    s->model_type = "qwen3";
    s->input_source = "token-ids";
    s->sink_scale = 1;
    s->act_scale = 100;
    s->perplexity = 20;
    s->sink_epsilon = 0.3;
    s->peak_layer = s->peak_head = -1;
    s->peak_fts = -1;
    s->with_token_text = 1;
}

int test_runmaker_gated(const struct test_run_spec *s)
{
    return s->gate_kind && strcmp(s->gate_kind, "none") != 0;
}

double test_runmaker_fts(const struct test_run_spec *s, int l, int h)
{
    if (s->peak_fts >= 0 && l == s->peak_layer && h == s->peak_head)
        return s->peak_fts;
    double v = s->sink_scale * (0.5 + 0.04 * l + 0.01 * h);
    return v > 1 ? 1 : v;
}

double test_runmaker_fts_incl0(const struct test_run_spec *s, int l, int h)
{
    return (test_runmaker_fts(s, l, h) * (s->T - 1) + 1) / s->T;
}

double test_runmaker_entropy(const struct test_run_spec *s, int l, int h)
{
    (void)s;
    return 1 + 0.1 * l + 0.01 * h;
}

double test_runmaker_act_max(const struct test_run_spec *s, int l, int stream)
{
    return s->act_scale * (l + 1) * (stream + 1) / 4.0;
}

double test_runmaker_gate_mean(const struct test_run_spec *s, int l, int h)
{
    (void)s;
    return 0.1 + 0.02 * l + 0.005 * h;
}

double test_runmaker_meangate_frac(const struct test_run_spec *s, int l, int k)
{
    (void)s;
    return k == 0 ? 0.1 + 0.01 * l : 0.01 + 0.001 * l;
}

static double alpha(const struct test_run_spec *s, int l, int h, int k)
{
    return k == 0 ? test_runmaker_fts_incl0(s, l, h) : 0.05 / k;
}

static double sink_rate_k(const struct test_run_spec *s, int k)
{
    int n = 0;
    for (int l = 0; l < s->n_layers; l++)
        for (int h = 0; h < s->n_heads; h++)
            n += alpha(s, l, h, k) > s->sink_epsilon;
    return (double)n / (s->n_layers * s->n_heads);
}

double test_runmaker_sink_rate(const struct test_run_spec *s)
{
    return sink_rate_k(s, 0);
}

/* ---- writing ---- */

struct mk {
    hid_t file;
    const struct test_run_spec *s;
    int failed;
};

/* Fixed-length UTF-8 strings as sinkscope writes them; bytes 0 = variable-length
 * (which readers must refuse: spec->vlen_strings crafts such a file). */
static hid_t str_type(size_t bytes)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, bytes ? bytes : H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static void attr_str(struct mk *m, hid_t obj, const char *name, const char *v)
{
    int vlen = m->s->vlen_strings;
    hid_t t = str_type(vlen ? 0 : strlen(v) + 1), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, t, vlen ? (const void *)&v : (const void *)v) < 0)
        m->failed = 1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void attr_num(struct mk *m, hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v,
                     int n)
{
    hsize_t d = (hsize_t)n;
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, mtype, v) < 0)
        m->failed = 1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
}

static void attr_int(struct mk *m, hid_t obj, const char *name, int v)
{
    attr_num(m, obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, &v, -1);
}

static void attr_dbl(struct mk *m, hid_t obj, const char *name, double v)
{
    attr_num(m, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, -1);
}

/* A root dimension scale: int32 0..n-1, or float64 values when given. */
static void dim(struct mk *m, const char *name, int n, const double *values, const char *flags)
{
    hsize_t d = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(m->file, name, values ? H5T_IEEE_F64LE : H5T_STD_I32LE, sp, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0) {
        m->failed = 1;
        H5Sclose(sp);
        return;
    }
    if (values) {
        H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    } else {
        int *v = malloc(sizeof(int) * (n ? n : 1));
        for (int i = 0; i < n; i++)
            v[i] = i;
        H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
    }
    H5DSset_scale(ds, name + 1);
    attr_str(m, ds, "long_name", name + 1);
    attr_str(m, ds, "units", "1");
    if (flags)
        attr_str(m, ds, "flag_meanings", flags);
    H5Dclose(ds);
    H5Sclose(sp);
}

static hid_t group_for(struct mk *m, const char *path)
{
    /* create missing parents: "/stats/x" -> "/stats" */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (H5Lexists(m->file, buf, H5P_DEFAULT) <= 0) {
                hid_t g = H5Gcreate2(m->file, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (g < 0)
                    m->failed = 1;
                else
                    H5Gclose(g);
            }
            *p = '/';
        }
    return m->file;
}

static int omitted(struct mk *m, const char *path)
{
    return m->s->omit && !strcmp(m->s->omit, path);
}

/* Create dataset `path` of file type ft with dims named; chunk optional (per axis).
 * Returns the open dataset or -1 (omitted or failed). shape may be bumped by wrong_shape. */
static hid_t dset_create(struct mk *m, const char *path, hid_t ft, int nd, const char *const *dims,
                         const hsize_t *shape_in, const hsize_t *chunk, int gzip, const char *long_name,
                         const char *units)
{
    if (omitted(m, path))
        return -1;
    hsize_t shape[4];
    for (int i = 0; i < nd; i++)
        shape[i] = shape_in[i];
    if (m->s->wrong_shape && !strcmp(m->s->wrong_shape, path) && nd > 0)
        shape[0]++;
    group_for(m, path);
    hid_t sp = nd ? H5Screate_simple(nd, shape, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) {
        H5Pset_chunk(dcpl, nd, chunk);
        if (gzip > 0) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, (unsigned)gzip);
        }
    }
    hid_t ds = H5Dcreate2(m->file, path, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (ds < 0) {
        m->failed = 1;
        fprintf(stderr, "runmaker: cannot create %s\n", path);
        return -1;
    }
    attr_str(m, ds, "long_name", long_name);
    attr_str(m, ds, "units", units);
    for (int i = 0; i < nd; i++) {
        char sc[64];
        snprintf(sc, sizeof sc, "/%s", dims[i]);
        hid_t s = H5Dopen2(m->file, sc, H5P_DEFAULT);
        if (s >= 0) {
            /* the wrong-shape dataset no longer matches its scale: do not attach */
            hsize_t sn = 0;
            hid_t ssp = H5Dget_space(s);
            H5Sget_simple_extent_dims(ssp, &sn, NULL);
            H5Sclose(ssp);
            if (sn == shape[i])
                H5DSattach_scale(ds, s, (unsigned)i);
            H5Dclose(s);
        }
    }
    return ds;
}

/* Whole float64 dataset from values v (size of shape_in; extra wrong-shape row = 0). */
static void put(struct mk *m, const char *path, int nd, const char *const *dims, const hsize_t *shape,
                const double *v, const char *long_name, const char *units)
{
    hid_t ds = dset_create(m, path, H5T_IEEE_F64LE, nd, dims, shape, NULL, 0, long_name, units);
    if (ds < 0)
        return;
    size_t n = 1, row = 1;
    for (int i = 0; i < nd; i++)
        n *= shape[i];
    for (int i = 1; i < nd; i++)
        row *= shape[i];
    int bumped = m->s->wrong_shape && !strcmp(m->s->wrong_shape, path) && nd > 0;
    double *buf = calloc(n + (bumped ? row : 0) + 1, sizeof(double));
    memcpy(buf, v, n * sizeof(double));
    if (H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        m->failed = 1;
    free(buf);
    H5Dclose(ds);
}

static void put_scalar(struct mk *m, const char *path, double v, const char *long_name, const char *units)
{
    put(m, path, 0, NULL, NULL, &v, long_name, units);
}

static void put_int(struct mk *m, const char *path, int nd, const char *const *dims, const hsize_t *shape,
                    const int *v, const char *long_name)
{
    hid_t ds = dset_create(m, path, H5T_STD_I32LE, nd, dims, shape, NULL, 0, long_name, "1");
    if (ds < 0)
        return;
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(nd, shape, NULL);
    hsize_t st[4] = {0};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, shape, NULL);
    if (H5Dwrite(ds, H5T_NATIVE_INT, ms, fs, H5P_DEFAULT, v) < 0)
        m->failed = 1;
    H5Sclose(fs);
    H5Sclose(ms);
    H5Dclose(ds);
}

#define D1(a) (const char *const[]){a}
#define D2(a, b) (const char *const[]){a, b}
#define D3(a, b, c) (const char *const[]){a, b, c}
#define D4(a, b, c, d) (const char *const[]){a, b, c, d}
#define S1(a) (const hsize_t[]){(hsize_t)(a)}
#define S2(a, b) (const hsize_t[]){(hsize_t)(a), (hsize_t)(b)}
#define S3(a, b, c) (const hsize_t[]){(hsize_t)(a), (hsize_t)(b), (hsize_t)(c)}
#define S4(a, b, c, d) (const hsize_t[]){(hsize_t)(a), (hsize_t)(b), (hsize_t)(c), (hsize_t)(d)}

static void write_root(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    hid_t f = m->file;
    if (!s->schema)
        attr_str(m, f, "schema", "sinkscope/1");
    else if (s->schema[0])
        attr_str(m, f, "schema", s->schema);
    attr_str(m, f, "tool_version", "0.1.0");
    attr_str(m, f, "created", "2026-01-01T00:00:00Z");
    attr_str(m, f, "model_path", s->model_path);
    attr_str(m, f, "model_type", s->model_type);
    attr_str(m, f, "config_json", "{\"model_type\": \"synthetic\"}");
    attr_int(m, f, "n_layers", s->n_layers);
    attr_int(m, f, "n_heads", s->n_heads);
    attr_int(m, f, "n_kv_heads", s->n_kv_heads);
    attr_int(m, f, "head_dim", s->head_dim);
    attr_int(m, f, "hidden", s->hidden);
    attr_int(m, f, "vocab", s->vocab);
    attr_str(m, f, "gate_kind", s->gate_kind);
    attr_str(m, f, "gate_mode", s->gate_mode);
    attr_int(m, f, "threads", 1);
    attr_int(m, f, "context_length", s->T);
    attr_int(m, f, "n_seqs", s->n_seqs);
    attr_str(m, f, "bos", s->bos);
    attr_str(m, f, "input_source", s->input_source);
    attr_dbl(m, f, "sink_epsilon", s->sink_epsilon);
    attr_dbl(m, f, "time_load_s", 0.5);
    attr_dbl(m, f, "time_forward_s", 1.5);
    attr_dbl(m, f, "time_write_s", 0.25);
}

static void write_dims(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    double bins[GATE_BINS], gth[3] = {0.01, 0.1, 0.5}, oth[2] = {1e-2, 1e-3};
    for (int i = 0; i < GATE_BINS; i++)
        bins[i] = (i + 0.5) / GATE_BINS;
    dim(m, "/layer", s->n_layers, NULL, NULL);
    dim(m, "/head", s->n_heads, NULL, NULL);
    dim(m, "/pos", s->T, NULL, NULL);
    dim(m, "/seq", s->n_seqs, NULL, NULL);
    dim(m, "/sink_key", SINK_KEYS, NULL, NULL);
    dim(m, "/rank", RANKS, NULL, NULL);
    dim(m, "/act_rank", ACT_RANKS, NULL, NULL);
    dim(m, "/gate_bin", GATE_BINS, bins, NULL);
    dim(m, "/gate_threshold", 3, gth, NULL);
    dim(m, "/out_threshold", 2, oth, NULL);
    dim(m, "/stream", STREAMS, NULL, "attn_output attn_residual ffn_output ffn_residual");
    dim(m, "/coord", 3, NULL, "seq pos dim");
}

static void write_inputs(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    int S = s->n_seqs, T = s->T;
    int *tok = malloc(sizeof(int) * S * T);
    for (int i = 0; i < S * T; i++)
        tok[i] = (s->token_offset + i) % s->vocab;
    put_int(m, "/tokens", 2, D2("seq", "pos"), S2(S, T), tok, "token ids");
    if (s->with_token_text && !omitted(m, "/token_text")) {
        hid_t t = str_type(32);
        hid_t ds = dset_create(m, "/token_text", t, 2, D2("seq", "pos"), S2(S, T), NULL, 0,
                               "decoded token", "1");
        if (ds >= 0) {
            char *txt = calloc((size_t)S * T, 32);
            for (int i = 0; i < S * T; i++) {
                char *e = txt + (size_t)i * 32;
                if (tok[i] == 1)
                    snprintf(e, 32, "<|endoftext|>");
                else if (tok[i] == 2)
                    snprintf(e, 32, " a&b_%%é");
                else
                    snprintf(e, 32, "tok%d", tok[i]);
            }
            hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(2, S2(S, T), NULL);
            hsize_t st[2] = {0, 0}, ct[2] = {(hsize_t)S, (hsize_t)T};
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
            if (H5Dwrite(ds, t, ms, fs, H5P_DEFAULT, txt) < 0)
                m->failed = 1;
            H5Sclose(fs);
            H5Sclose(ms);
            free(txt);
            H5Dclose(ds);
        }
        H5Tclose(t);
    }
    free(tok);
}

static void write_attention_stats(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    int L = s->n_layers, H = s->n_heads, T = s->T, K = SINK_KEYS, R = RANKS;
    double *fts = malloc(sizeof(double) * L * H), *inc = malloc(sizeof(double) * L * H);
    double *ftl = malloc(sizeof(double) * L), *prof = malloc(sizeof(double) * L * T);
    double *al = malloc(sizeof(double) * L * H * K), *ent = malloc(sizeof(double) * L * H);
    double *tka = malloc(sizeof(double) * L * H * R), sr[SINK_KEYS];
    int *tkp = malloc(sizeof(int) * L * H * R);
    for (int l = 0; l < L; l++) {
        ftl[l] = 0;
        for (int h = 0; h < H; h++) {
            int i = l * H + h;
            fts[i] = test_runmaker_fts(s, l, h);
            inc[i] = test_runmaker_fts_incl0(s, l, h);
            ent[i] = test_runmaker_entropy(s, l, h);
            ftl[l] += fts[i] / H;
            for (int k = 0; k < K; k++)
                al[i * K + k] = alpha(s, l, h, k);
            for (int r = 0; r < R; r++) {
                tkp[i * R + r] = r < T ? r : 0;
                tka[i * R + r] = alpha(s, l, h, r);
            }
        }
        for (int p = 0; p < T; p++)
            prof[l * T + p] = p == 0 ? 1 : ftl[l];
    }
    for (int k = 0; k < K; k++)
        sr[k] = sink_rate_k(s, k);
    put(m, "/stats/first_token_share", 2, D2("layer", "head"), S2(L, H), fts, "attention on the first token, queries q >= 1", "probability");
    put(m, "/stats/first_token_share_incl0", 2, D2("layer", "head"), S2(L, H), inc, "attention on the first token, queries q >= 0", "probability");
    put(m, "/stats/first_token_share_layer", 1, D1("layer"), S1(L), ftl, "first_token_share averaged over heads", "probability");
    put(m, "/stats/first_token_profile", 2, D2("layer", "pos"), S2(L, T), prof, "attention on key 0 by query position", "probability");
    put(m, "/stats/sink_alpha", 3, D3("layer", "head", "sink_key"), S3(L, H, K), al, "alpha_k", "probability");
    put(m, "/stats/sink_rate", 1, D1("sink_key"), S1(K), sr, "sink rate", "1");
    if (!omitted(m, "/stats/sink_rate") && H5Lexists(m->file, "/stats/sink_rate", H5P_DEFAULT) > 0) {
        hid_t d = H5Dopen2(m->file, "/stats/sink_rate", H5P_DEFAULT);
        attr_dbl(m, d, "sink_epsilon", s->sink_epsilon);
        H5Dclose(d);
    }
    put(m, "/stats/attn_entropy", 2, D2("layer", "head"), S2(L, H), ent, "attention entropy", "nats");
    put_int(m, "/stats/top_key_pos", 3, D3("layer", "head", "rank"), S3(L, H, R), tkp, "top key positions");
    put(m, "/stats/top_key_alpha", 3, D3("layer", "head", "rank"), S3(L, H, R), tka, "their alpha_k", "probability");
    free(fts), free(inc), free(ftl), free(prof), free(al), free(ent), free(tka), free(tkp);
}

static double layer_gate_mean(const struct test_run_spec *s, int l)
{
    double g = 0;
    for (int h = 0; h < s->n_heads; h++)
        g += test_runmaker_gate_mean(s, l, h) / s->n_heads;
    return g;
}

static void write_gate_stats(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    int L = s->n_layers, H = s->n_heads, T = s->T, B = GATE_BINS;
    int gated = test_runmaker_gated(s);
    double *oabs = malloc(sizeof(double) * L), *gabs = malloc(sizeof(double) * L);
    double *ofb = malloc(sizeof(double) * L * 2), *gfb = malloc(sizeof(double) * L * 2);
    for (int l = 0; l < L; l++) {
        oabs[l] = 0.5 + 0.1 * l;
        gabs[l] = gated ? oabs[l] * layer_gate_mean(s, l) : oabs[l];
        ofb[l * 2] = 0.01, ofb[l * 2 + 1] = 0.001;
        gfb[l * 2] = gated ? 0.2 : 0.01, gfb[l * 2 + 1] = gated ? 0.02 : 0.001;
    }
    put(m, "/stats/attn_out_absmean", 1, D1("layer"), S1(L), oabs, "mean |Y| before the gate", "1");
    put(m, "/stats/attn_gated_absmean", 1, D1("layer"), S1(L), gabs, "mean |Y'| after the gate", "1");
    put(m, "/stats/attn_out_frac_below", 2, D2("layer", "out_threshold"), S2(L, 2), ofb, "fraction of |Y| below", "1");
    put(m, "/stats/attn_gated_frac_below", 2, D2("layer", "out_threshold"), S2(L, 2), gfb, "fraction of |Y'| below", "1");
    free(oabs), free(gabs), free(ofb), free(gfb);
    if (!gated)
        return;
    double *mfb = malloc(sizeof(double) * L * 2);
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 2; k++)
            mfb[l * 2 + k] = test_runmaker_meangate_frac(s, l, k);
    put(m, "/stats/attn_meangate_frac_below", 2, D2("layer", "out_threshold"), S2(L, 2), mfb,
        "fraction of |Y| x mean gate below", "1");
    free(mfb);
    double *gm = malloc(sizeof(double) * L * H), *gs = malloc(sizeof(double) * L * H);
    double *gmin = malloc(sizeof(double) * L * H), *gmax = malloc(sizeof(double) * L * H);
    double *hist = malloc(sizeof(double) * L * B), *pooled = malloc(sizeof(double) * B);
    double *fb = malloc(sizeof(double) * L * 3), *p0 = malloc(sizeof(double) * L);
    double *rest = malloc(sizeof(double) * L), *bypos = malloc(sizeof(double) * L * T);
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < H; h++) {
            int i = l * H + h;
            gm[i] = test_runmaker_gate_mean(s, l, h);
            gs[i] = 0.05;
            gmin[i] = 0.001 * (l + 1);
            gmax[i] = 0.9 - 0.01 * h;
        }
        for (int b = 0; b < B; b++)
            hist[l * B + b] = 1;
        fb[l * 3] = 0.05, fb[l * 3 + 1] = 0.3, fb[l * 3 + 2] = 0.8;
        p0[l] = 0.05;
        rest[l] = layer_gate_mean(s, l);
        for (int p = 0; p < T; p++)
            bypos[l * T + p] = p == 0 ? p0[l] : rest[l];
    }
    for (int b = 0; b < B; b++)
        pooled[b] = 1;
    put(m, "/stats/gate_mean", 2, D2("layer", "head"), S2(L, H), gm, "mean gate", "1");
    put(m, "/stats/gate_std", 2, D2("layer", "head"), S2(L, H), gs, "gate std", "1");
    put(m, "/stats/gate_min", 2, D2("layer", "head"), S2(L, H), gmin, "gate min", "1");
    put(m, "/stats/gate_max", 2, D2("layer", "head"), S2(L, H), gmax, "gate max", "1");
    put(m, "/stats/gate_hist", 2, D2("layer", "gate_bin"), S2(L, B), hist, "gate density", "1");
    put(m, "/stats/gate_hist_pooled", 1, D1("gate_bin"), S1(B), pooled, "gate density, all layers", "1");
    put(m, "/stats/gate_frac_below", 2, D2("layer", "gate_threshold"), S2(L, 3), fb, "fraction of gates below", "1");
    put(m, "/stats/gate_mean_pos0", 1, D1("layer"), S1(L), p0, "mean gate at position 0", "1");
    put(m, "/stats/gate_mean_rest", 1, D1("layer"), S1(L), rest, "mean gate at positions >= 1", "1");
    put(m, "/stats/gate_mean_by_pos", 2, D2("layer", "pos"), S2(L, T), bypos, "mean gate by position", "1");
    free(gm), free(gs), free(gmin), free(gmax), free(hist), free(pooled), free(fb), free(p0), free(rest), free(bypos);
}

static void write_act_stats(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    int L = s->n_layers, ST = STREAMS, AR = ACT_RANKS, T = s->T;
    size_t n = (size_t)L * ST;
    double *mx = malloc(sizeof(double) * n), *med = malloc(sizeof(double) * n), *mom = malloc(sizeof(double) * n);
    double *c100 = malloc(sizeof(double) * n), *c1000 = malloc(sizeof(double) * n), *cm = malloc(sizeof(double) * n);
    double *tv = malloc(sizeof(double) * n * AR), *rn = malloc(sizeof(double) * L), *vn = malloc(sizeof(double) * L * T);
    int *ti = malloc(sizeof(int) * n * AR * 3);
    for (int l = 0; l < L; l++) {
        for (int st = 0; st < ST; st++) {
            size_t i = (size_t)l * ST + st;
            mx[i] = test_runmaker_act_max(s, l, st);
            med[i] = 0.5;
            mom[i] = mx[i] / med[i];
            c100[i] = mom[i] > 100 ? 2 : 0;
            c1000[i] = mom[i] > 1000 ? 1 : 0;
            cm[i] = (mx[i] > 100 && mom[i] > 1000) ? 1 : 0;
            for (int r = 0; r < AR; r++) {
                tv[i * AR + r] = mx[i] * (1 - 0.05 * r);
                int *c = ti + (i * AR + r) * 3;
                c[0] = 0, c[1] = 0, c[2] = r % (s->hidden > 0 ? s->hidden : 1);
            }
        }
        rn[l] = 1 + l;
        for (int p = 0; p < T; p++)
            vn[l * T + p] = 1;
    }
    put(m, "/stats/act_max", 2, D2("layer", "stream"), S2(L, ST), mx, "max |x|", "1");
    put(m, "/stats/act_top_value", 3, D3("layer", "stream", "act_rank"), S3(L, ST, AR), tv, "largest |x|", "1");
    put_int(m, "/stats/act_top_index", 4, D4("layer", "stream", "act_rank", "coord"), S4(L, ST, AR, 3), ti, "their (seq, pos, dim)");
    put(m, "/stats/act_median", 2, D2("layer", "stream"), S2(L, ST), med, "median |x|", "1");
    put(m, "/stats/act_max_over_median", 2, D2("layer", "stream"), S2(L, ST), mom, "max over median", "1");
    put(m, "/stats/act_count_100x", 2, D2("layer", "stream"), S2(L, ST), c100, "entries over 100x median", "1");
    put(m, "/stats/act_count_1000x", 2, D2("layer", "stream"), S2(L, ST), c1000, "entries over 1000x median", "1");
    put(m, "/stats/act_count_massive", 2, D2("layer", "stream"), S2(L, ST), cm, "massive activations", "1");
    put(m, "/stats/resid_pos0_norm_ratio", 1, D1("layer"), S1(L), rn, "||h_0|| over mean ||h_t||", "1");
    put(m, "/stats/value_norm", 2, D2("layer", "pos"), S2(L, T), vn, "||v|| by position", "1");
    free(mx), free(med), free(mom), free(c100), free(c1000), free(cm), free(tv), free(rn), free(vn), free(ti);
}

static void write_nll_and_summary(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    int L = s->n_layers, H = s->n_heads, S = s->n_seqs, T = s->T;
    if (!omitted(m, "/stats/nll")) {
        hid_t ds = dset_create(m, "/stats/nll", H5T_IEEE_F32LE, 2, D2("seq", "pos"), S2(S, T), NULL, 0,
                               "negative log-likelihood of the next token", "nats");
        if (ds >= 0) {
            int bumped = s->wrong_shape && !strcmp(s->wrong_shape, "/stats/nll");
            size_t n = (size_t)(S + bumped) * T;
            float *v = malloc(sizeof(float) * n);
            for (size_t i = 0; i < n; i++)
                v[i] = (int)(i % T) == T - 1 ? NAN : (float)log(s->perplexity);
            H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
            free(v);
            H5Dclose(ds);
        }
    }
    double f0 = 0, f0i = 0, am = 0, amax = 0, gm = 0;
    for (int l = 0; l < L; l++) {
        for (int h = 0; h < H; h++) {
            f0 += test_runmaker_fts(s, l, h) / (L * H);
            f0i += test_runmaker_fts_incl0(s, l, h) / (L * H);
            gm += test_runmaker_gate_mean(s, l, h) / (L * H);
        }
        double a = test_runmaker_act_max(s, l, 3);
        am += a / L;
        if (a > amax)
            amax = a;
    }
    /* perplexity as the writer computes it: exp of the mean float32 nll */
    double ppl = exp((double)(float)log(s->perplexity));
    put_scalar(m, "/summary/first_token_share", f0, "F-Attn", "probability");
    put_scalar(m, "/summary/first_token_share_incl0", f0i, "F-Attn including query 0", "probability");
    put_scalar(m, "/summary/max_activation_mean", am, "M-Act", "1");
    put_scalar(m, "/summary/max_activation", amax, "max activation", "1");
    if (test_runmaker_gated(s))
        put_scalar(m, "/summary/gate_mean", gm, "mean gate", "1");
    put_scalar(m, "/summary/perplexity", ppl, "perplexity", "1");
    put_scalar(m, "/summary/sink_rate", sink_rate_k(s, 0), "sink rate", "1");
    put_scalar(m, "/summary/n_tokens", (double)S * T, "tokens evaluated", "1");
}

static void write_dumps(struct mk *m)
{
    const struct test_run_spec *s = m->s;
    int L = s->n_layers, H = s->n_heads, S = s->n_seqs, T = s->T;
    if (s->with_attention) {
        dim(m, "/query", T, NULL, NULL);
        dim(m, "/key", T, NULL, NULL);
        float *map = malloc(sizeof(float) * (size_t)T * T);
        int *heads = malloc(sizeof(int) * H);
        for (int h = 0; h < H; h++)
            heads[h] = h;
        for (int l = 0; l < L; l++) {
            char path[64];
            snprintf(path, sizeof path, L >= 100 ? "/attention/layer_%03d" : "/attention/layer_%02d", l);
            hid_t ds = dset_create(m, path, H5T_IEEE_F32LE, 4, D4("seq", "head", "query", "key"),
                                   S4(S, H, T, T), S4(1, 1, T, T), s->dump_gzip, "attention probabilities",
                                   "probability");
            if (ds < 0)
                continue;
            attr_num(m, ds, "heads", H5T_STD_I32LE, H5T_NATIVE_INT, heads, H);
            hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(2, S2(T, T), NULL);
            for (int h = 0; h < H; h++) {
                float f = (float)test_runmaker_fts(s, l, h);
                for (int q = 0; q < T; q++)
                    for (int k = 0; k < T; k++)
                        map[(size_t)q * T + k] = k > q ? 0 : q == 0 ? 1 : k == 0 ? f : (1 - f) / q;
                for (int sq = 0; sq < S; sq++) {
                    hsize_t st[4] = {(hsize_t)sq, (hsize_t)h, 0, 0}, ct[4] = {1, 1, (hsize_t)T, (hsize_t)T};
                    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
                    if (H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, map) < 0)
                        m->failed = 1;
                }
            }
            H5Sclose(fs);
            H5Sclose(ms);
            H5Dclose(ds);
        }
        free(map);
        free(heads);
    }
    if (s->with_gates && test_runmaker_gated(s)) {
        int G = !strcmp(s->gate_kind, "elementwise") ? s->head_dim : 1;
        dim(m, "/gate_dim", G, NULL, NULL);
        size_t n = (size_t)S * T * H * G;
        float *g = malloc(sizeof(float) * n);
        for (int l = 0; l < L; l++) {
            char path[64];
            snprintf(path, sizeof path, L >= 100 ? "/gates/layer_%03d" : "/gates/layer_%02d", l);
            for (size_t i = 0; i < n; i++)
                g[i] = (float)test_runmaker_gate_mean(s, l, (int)((i / G) % H));
            hid_t ds = dset_create(m, path, H5T_IEEE_F32LE, 4, D4("seq", "pos", "head", "gate_dim"),
                                   S4(S, T, H, G), NULL, 0, "gate values", "1");
            if (ds < 0)
                continue;
            if (H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, g) < 0)
                m->failed = 1;
            H5Dclose(ds);
        }
        free(g);
    }
}

int test_runmaker_write(const char *path, const struct test_run_spec *spec)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    struct mk m = {.file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), .s = spec};
    H5Pclose(fapl);
    if (m.file < 0) {
        fprintf(stderr, "runmaker: cannot create %s\n", path);
        return -1;
    }
    write_root(&m);
    write_dims(&m);
    write_inputs(&m);
    write_attention_stats(&m);
    write_gate_stats(&m);
    write_act_stats(&m);
    write_nll_and_summary(&m);
    write_dumps(&m);
    if (H5Fclose(m.file) < 0)
        m.failed = 1;
    if (m.failed)
        fprintf(stderr, "runmaker: writing %s failed\n", path);
    return m.failed ? -1 : 0;
}
