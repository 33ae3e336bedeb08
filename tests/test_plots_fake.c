/* tests/test_plots_fake.c — see test_plots_fake.h. */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_plots_fake.h"

static void attr_str(hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1); /* fixed-length UTF-8, as sinkscope writes */
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void attr_int(hid_t loc, const char *name, int v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(sp);
}

static void dset(hid_t f, const char *path, hid_t ftype, hid_t mtype, int ndim, const hsize_t *dims, const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, path, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    attr_str(d, "long_name", path);
    attr_str(d, "units", "1");
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
}

static void dset_d(hid_t f, const char *path, int ndim, const hsize_t *dims, const double *v)
{
    dset(f, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, ndim, dims, v);
}

/* Baseline: a first-token sink from layer 1 on and large activations; gated:
 * neither, gates mostly near 0. Values are smooth functions of layer/head. */
int make_run(const char *path, const struct fake_run *o)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    int L = o->L, H = o->H, T = o->T, S = o->S;
    attr_str(f, "schema", "sinkscope/1");
    attr_str(f, "tool_version", "test");
    attr_str(f, "created", "2026-01-01T00:00:00Z");
    attr_str(f, "model_path", "synthetic");
    attr_str(f, "model_type", "qwen3");
    attr_str(f, "config_json", "{}");
    attr_int(f, "n_layers", L);
    attr_int(f, "n_heads", H);
    attr_int(f, "n_kv_heads", H);
    attr_int(f, "head_dim", 8);
    attr_int(f, "hidden", 32);
    attr_int(f, "vocab", 100);
    attr_int(f, "context_length", T);
    attr_int(f, "n_seqs", S);
    attr_int(f, "threads", 1);
    attr_str(f, "gate_kind", o->gated ? "headwise" : "none");
    attr_str(f, "gate_mode", "native");
    attr_str(f, "bos", "none");
    attr_str(f, "input_source", "token-ids");

    int *tok = malloc(sizeof *tok * S * T);
    const char *pieces[] = {"Sparse", " gating", " mechanism", " 100%$#&~\\", "ates", " attention", " sink", ".",
                            "\n", " it's", " `x`", " a_b^{c}", "  ", "%$#&~\\", " \xc3\xa9t\xc3\xa9", " long-long-token"};
    char *txt = calloc((size_t)S * T, 64);
    for (int i = 0; i < S * T; i++) {
        tok[i] = i % 100;
        snprintf(txt + (size_t)i * 64, 64, "%s", pieces[(i % T) % 16]);
    }
    hsize_t st[2] = {(hsize_t)S, (hsize_t)T};
    dset(f, "/tokens", H5T_STD_I32LE, H5T_NATIVE_INT, 2, st, tok);
    hid_t vt = H5Tcopy(H5T_C_S1);
    H5Tset_size(vt, 64);
    H5Tset_cset(vt, H5T_CSET_UTF8);
    dset(f, "/token_text", vt, vt, 2, st, txt);
    H5Tclose(vt);
    free(tok);
    free(txt);

    double *v = calloc((size_t)L * H * 64 + 64 * 64, sizeof *v);
    hsize_t dl[1] = {(hsize_t)L}, dlh[2] = {(hsize_t)L, (hsize_t)H};
    for (int l = 0; l < L; l++)
        v[l] = o->gated ? 0.05 + 0.01 * l : (l == 0 ? 0.2 : 0.8 - 0.02 * l);
    dset_d(f, "/stats/first_token_share_layer", 1, dl, v);
    double mean = 0;
    for (int l = 0; l < L; l++)
        mean += v[l] / L;
    dset_d(f, "/summary/first_token_share", 0, NULL, &mean);
    for (int l = 0; l < L; l++)
        v[l] = 0.7 + 0.01 * l;
    dset_d(f, "/stats/attn_out_absmean", 1, dl, v);
    for (int l = 0; l < L; l++)
        v[l] = o->gated ? 0.05 + 0.002 * l : 0.7 + 0.01 * l;
    dset_d(f, "/stats/attn_gated_absmean", 1, dl, v);
    hsize_t dl2[2] = {(hsize_t)L, 2};
    for (int l = 0; l < L; l++) {
        v[2 * l] = 0.1 + 0.005 * l;
        v[2 * l + 1] = 0.01 + 0.001 * l;
    }
    dset_d(f, "/stats/attn_out_frac_below", 2, dl2, v);
    for (int l = 0; l < L && o->gated; l++) {
        v[2 * l] = 0.6 + 0.01 * l;
        v[2 * l + 1] = 0.2 + 0.01 * l;
    }
    dset_d(f, "/stats/attn_gated_frac_below", 2, dl2, v);
    hsize_t dl4[2] = {(hsize_t)L, 4};
    for (int l = 0; l < L; l++)
        for (int s = 0; s < 4; s++)
            v[l * 4 + s] = (1 + s) * (2.0 + l) * (o->gated || l < 1 ? 1 : 50) + (s == 0 && l == 0 ? -3 : 0);
    dset_d(f, "/stats/act_max", 2, dl4, v);
    hsize_t dtop[3] = {(hsize_t)L, 4, 10}, dtopi[4] = {(hsize_t)L, 4, 10, 3};
    int *ix = calloc((size_t)L * 4 * 10 * 3, sizeof *ix);
    double *tv = calloc((size_t)L * 4 * 10, sizeof *tv);
    for (int l = 0; l < L; l++)
        for (int s = 0; s < 4; s++)
            for (int k = 0; k < 10; k++) {
                size_t i = ((size_t)l * 4 + s) * 10 + k;
                tv[i] = v[l * 4 + s] / (1 + k);
                ix[i * 3 + 1] = k % T;
                ix[i * 3 + 2] = (7 * k + 3) % 32;
            }
    dset_d(f, "/stats/act_top_value", 3, dtop, tv);
    dset(f, "/stats/act_top_index", H5T_STD_I32LE, H5T_NATIVE_INT, 4, dtopi, ix);
    free(ix);
    free(tv);
    if (o->gated) {
        const int B = 50;
        hsize_t db[1] = {(hsize_t)B}, dlb[2] = {(hsize_t)L, (hsize_t)B};
        double *h = calloc((size_t)L * B, sizeof *h);
        double z = 0;
        for (int b = 0; b < B; b++)
            z += exp(-(b + 0.5) / B / 0.15);
        for (int b = 0; b < B; b++)
            h[b] = exp(-(b + 0.5) / B / 0.15) * B / z;
        dset_d(f, "/stats/gate_hist_pooled", 1, db, h);
        for (int l = 1; l < L; l++)
            memcpy(h + (size_t)l * B, h, B * sizeof *h);
        dset_d(f, "/stats/gate_hist", 2, dlb, h);
        free(h);
        for (int i = 0; i < L * H; i++)
            v[i] = 0.1 + 0.01 * (i % 7);
        dset_d(f, "/stats/gate_mean", 2, dlh, v);
        double gm = 0.13;
        dset_d(f, "/summary/gate_mean", 0, NULL, &gm);
        for (int i = 0; i < L * H; i++)
            v[i] = 0.08;
        dset_d(f, "/stats/gate_std", 2, dlh, v);
        for (int i = 0; i < L * H; i++)
            v[i] = 0.001;
        dset_d(f, "/stats/gate_min", 2, dlh, v);
        for (int i = 0; i < L * H; i++)
            v[i] = 0.9;
        dset_d(f, "/stats/gate_max", 2, dlh, v);
    }
    free(v);
    if (o->attention) {
        float *a = calloc((size_t)S * H * T * T, sizeof *a);
        hsize_t da[4] = {(hsize_t)S, (hsize_t)H, (hsize_t)T, (hsize_t)T};
        for (int l = 0; l < L; l++) {
            for (int s = 0; s < S; s++)
                for (int h = 0; h < H; h++)
                    for (int q = 0; q < T; q++) {
                        float *row = a + (((size_t)s * H + h) * T + q) * T;
                        double z = 0;
                        for (int k = 0; k <= q; k++) {
                            row[k] = (float)(1.0 + ((k * 7 + q * 3 + h) % 5) +
                                             (k == 0 && !o->gated && l > 0 ? 40.0 : 0) + (k == q && o->gated ? 5 : 0));
                            z += row[k];
                        }
                        for (int k = 0; k <= q; k++)
                            row[k] = (float)(row[k] / z);
                    }
            char name[64];
            snprintf(name, sizeof name, "/attention/layer_%02d", l);
            dset(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, da, a);
        }
        free(a);
    }
    if (o->hidden_dump) {
        float *x = calloc((size_t)S * T * 32, sizeof *x);
        hsize_t dh[3] = {(hsize_t)S, (hsize_t)T, 32};
        for (int i = 0; i < S * T * 32; i++)
            x[i] = (float)(((i * 37) % 11) - 5) * 0.1f;
        x[5] = o->gated ? 3.0f : 300.0f; /* a massive activation at token 0, dim 5 */
        for (int l = 0; l < L; l++) {
            char name[64];
            snprintf(name, sizeof name, "/hidden/layer_%02d", l);
            dset(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dh, x);
        }
        free(x);
    }
    H5Fclose(f);
    return 0;
}

