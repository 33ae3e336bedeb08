/* model/synth.c — write a random-weight checkpoint (config.json + model.safetensors).
 *
 * Scales keep attention far from uniform: norm weights ~1, projections ~N(0, 1/in)
 * in variance (std 1/sqrt(in)), q/k projections and the gate rows twice that, QK-norm
 * weights ~2, so scores q.k/sqrt(D) have a spread of several units. The normal draws
 * are Irwin-Hall sums of four uniforms (cheap; a 1.7 B-parameter model is written in
 * seconds). Each tensor has its own stream, so contents depend only on (seed, name). */
#include "synth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#include "arch.h"
#include "safetensors.h"

static char *synth_config_json(const struct model_config *c);

/* The presets of the further families (model/arch.h); 0 when p is none of them. */
static int family_preset(struct model_config *c, const char *p)
{
    if (!strcmp(p, "gpt2")) { /* openai-community/gpt2 */
        strcpy(c->model_type, "gpt2");
        c->n_layers = 12, c->hidden = 768, c->n_heads = 12, c->ffn = 3072, c->vocab = 50257, c->max_pos = 1024;
        c->rms_eps = 1e-5f, c->bos_token_id = c->eos_token_id = 50256;
    } else if (!strcmp(p, "pythia-1b")) { /* EleutherAI/pythia-1b: head 256, rotary on 64 dims, parallel */
        strcpy(c->model_type, "gpt_neox");
        c->n_layers = 16, c->hidden = 2048, c->n_heads = 8, c->ffn = 8192, c->vocab = 50304, c->max_pos = 2048;
        c->head_dim = 256, c->v.rope_dim = 64, c->rope.theta = 10000, c->rms_eps = 1e-5f, c->tied = 0;
        c->v.residual = RESID_PARALLEL, c->bos_token_id = c->eos_token_id = 0;
    } else if (!strcmp(p, "gemma-2-2b")) { /* google/gemma-2-2b */
        strcpy(c->model_type, "gemma2");
        c->n_layers = 26, c->hidden = 2304, c->n_heads = 8, c->n_kv_heads = 4, c->head_dim = 256, c->ffn = 9216;
        c->vocab = 256000, c->max_pos = 8192, c->rope.theta = 10000, c->window = 4096;
        c->v.attn_scale = 0.0625f, c->v.attn_softcap = 50, c->v.final_softcap = 30;
        for (int l = 0; l < c->n_layers; l++)
            c->v.layer_sliding[l] = l % 2 == 0;
        c->bos_token_id = 2, c->eos_token_id = 1;
    } else if (!strcmp(p, "gpt-oss-20b")) { /* openai/gpt-oss-20b: MXFP4 experts, the rest bf16 (--dtype) */
        strcpy(c->model_type, "gpt_oss");
        c->n_layers = 24, c->hidden = 2880, c->n_heads = 64, c->n_kv_heads = 8, c->head_dim = 64, c->ffn = 2880;
        c->vocab = 201088, c->max_pos = 131072, c->rms_eps = 1e-5f, c->tied = 0, c->window = 128;
        c->qkv_bias = c->o_bias = 1, c->eos_token_id = 200002;
        c->v.n_experts = 32, c->v.top_k = 4, c->v.glu_limit = 7, c->v.experts_mxfp4 = 1;
        c->rope = (struct rope_config){.type = ROPE_TYPE_YARN, .theta = 150000, .factor = 32, .original_max_pos = 4096,
                                       .beta_fast = 32, .beta_slow = 1, .truncate = 0};
        for (int l = 0; l < c->n_layers; l++)
            c->v.layer_sliding[l] = l % 2 == 0;
    } else if (!strcmp(p, "olmo-2-1b")) { /* allenai/OLMo-2-0425-1B */
        strcpy(c->model_type, "olmo2");
        c->n_layers = 16, c->hidden = 2048, c->n_heads = 16, c->n_kv_heads = 16, c->head_dim = 128, c->ffn = 8192;
        c->vocab = 100352, c->max_pos = 4096, c->rope.theta = 500000, c->tied = 0, c->eos_token_id = 100257;
    } else
        return 0;
    return 1;
}

enum ss_status synth_config(struct model_config *c, const struct synth_opts *o, struct ss_error *err)
{
    memset(c, 0, sizeof *c);
    c->bos_token_id = -1;
    c->eos_token_id = -1;
    c->rms_eps = 1e-6f;
    c->tied = 1;
    c->rope.type = ROPE_TYPE_DEFAULT;
    c->rope.theta = 1000000;
    const char *p = o->preset ? o->preset : "";
    int gate = GATE_KIND_NONE;
    if (!strcmp(p, "tiny")) {
        strcpy(c->model_type, "qwen3");
        c->n_layers = 2, c->hidden = 64, c->n_heads = 4, c->n_kv_heads = 2, c->head_dim = 32, c->ffn = 128;
        c->vocab = 512, c->max_pos = 4096, c->qk_norm = 1;
    } else if (!strcmp(p, "qwen3-0.6b")) {
        strcpy(c->model_type, "qwen3");
        c->n_layers = 28, c->hidden = 1024, c->n_heads = 16, c->n_kv_heads = 8, c->head_dim = 128, c->ffn = 3072;
        c->vocab = 151936, c->max_pos = 40960, c->qk_norm = 1;
        c->bos_token_id = 151643, c->eos_token_id = 151645;
    } else if (!strcmp(p, "llama-3.2-1b")) {
        strcpy(c->model_type, "llama");
        c->n_layers = 16, c->hidden = 2048, c->n_heads = 32, c->n_kv_heads = 8, c->head_dim = 64, c->ffn = 8192;
        c->vocab = 128256, c->max_pos = 131072, c->rms_eps = 1e-5f;
        c->rope = (struct rope_config){.type = ROPE_TYPE_LLAMA3, .theta = 500000, .factor = 32, .low_freq_factor = 1,
                                       .high_freq_factor = 4, .original_max_pos = 8192};
        c->bos_token_id = 128000, c->eos_token_id = 128001;
    } else if (!strcmp(p, "llama-3.1-8b")) { /* the memory promise of issue 13: 16 GB of bf16 */
        strcpy(c->model_type, "llama");
        c->n_layers = 32, c->hidden = 4096, c->n_heads = 32, c->n_kv_heads = 8, c->head_dim = 128, c->ffn = 14336;
        c->vocab = 128256, c->max_pos = 131072, c->rms_eps = 1e-5f, c->tied = 0;
        c->rope = (struct rope_config){.type = ROPE_TYPE_LLAMA3, .theta = 500000, .factor = 8, .low_freq_factor = 1,
                                       .high_freq_factor = 4, .original_max_pos = 8192};
        c->bos_token_id = 128000, c->eos_token_id = 128001;
    } else if (!strcmp(p, "gated-1b")) {
        strcpy(c->model_type, "qwen3");
        c->n_layers = 28, c->hidden = 2048, c->n_heads = 16, c->n_kv_heads = 8, c->head_dim = 128, c->ffn = 6144;
        c->vocab = 152064, c->max_pos = 32768, c->qk_norm = 1;
        gate = GATE_KIND_HEADWISE;
    } else if (!family_preset(c, p)) {
        return ss_fail(err, SS_ERR_INPUT, "unknown preset '%.40s' (%s)", p, SYNTH_PRESETS);
    }
    if (o->gate > GATE_KIND_NONE && strcmp(c->model_type, "qwen3"))
        return ss_fail(err, SS_ERR_INPUT, "preset '%s' is a %s model: the output gate exists only on qwen3 presets", p,
                       c->model_type);
    if (o->gate >= 0)
        gate = o->gate;
    c->gate = gate;
    if (!strcmp(p, "gated-1b") && gate == GATE_KIND_ELEMENTWISE)
        c->ffn = 5504; /* the paper keeps parameters equal by narrowing the FFN */
    if (o->layers > 0)
        c->n_layers = o->layers;
    strcpy(c->dtype, o->bf16 ? "bf16" : "f32");
    /* the config as written and read back: the family's parser fills the rest */
    char *text = synth_config_json(c);
    if (!text)
        return ss_fail(err, SS_ERR_NOMEM, "synth: out of memory");
    enum ss_status st = model_config_parse(c, text, "synth config", err);
    free(text);
    return st;
}

/* c as a config.json text (malloc'd), written by the family's writer. */
static char *synth_config_json(const struct model_config *c)
{
    const struct arch *a = c->arch ? c->arch : arch_find(c->model_type);
    if (!a || !a->write_config)
        return NULL;
    json_t *j = json_object();
    json_object_set_new(j, "model_type", json_string(c->model_type));
    a->write_config(j, c);
    if (c->bos_token_id >= 0)
        json_object_set_new(j, "bos_token_id", json_integer(c->bos_token_id));
    if (c->eos_token_id >= 0)
        json_object_set_new(j, "eos_token_id", json_integer(c->eos_token_id));
    json_object_set_new(j, "dtype", json_string(!strcmp(c->dtype, "bf16") ? "bfloat16" : "float32"));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    json_decref(j);
    return text;
}

enum ss_status synth_write_config(const char *path, const struct model_config *c, struct ss_error *err)
{
    char *text = synth_config_json(c);
    if (!text)
        return ss_fail(err, SS_ERR_INPUT, "%s: no config writer for model type '%s'", path, c->model_type);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f))
        ok = 0;
    free(text);
    if (!ok)
        return ss_fail(err, SS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return SS_OK;
}

/* ---- tensors ------------------------------------------------------------------- */

struct synth_tensor {
    char name[96];
    int ndim;
    int64_t shape[4];          /* as stored (model/arch.h arch_stored_shape) */
    float mean, std;
    int u8;                    /* MXFP4: 1 blocks (random nibbles), 2 scales (exponent `mean`) */
};

static uint64_t numel_of(const struct synth_tensor *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (uint64_t)t->shape[i];
    return n;
}

/* Mean and spread of a role's values (see the header comment). */
static void role_init(const struct model_config *c, enum tensor_role r, int64_t in, float *mean, float *std)
{
    float s = 1 / sqrtf((float)in), one = c->v.norm == NORM_RMS_OFFSET ? 0 : 1; /* (1 + w) norms: w ~ 0 */
    *mean = 0, *std = s;
    switch (r) {
    case TR_EMBED: case TR_POS_EMBED: *std = 0.5f; break;
    case TR_ATTN_NORM: case TR_FFN_NORM: case TR_FINAL_NORM: case TR_ATTN_POST_NORM: case TR_FFN_POST_NORM:
        *mean = one, *std = 0.1f; break;
    case TR_Q_NORM: case TR_K_NORM: *mean = one + 1, *std = 0.3f; break;
    case TR_ATTN_NORM_B: case TR_FFN_NORM_B: case TR_FINAL_NORM_B: case TR_Q_B: case TR_K_B: case TR_V_B:
    case TR_QKV_B: case TR_O_B: case TR_UP_B: case TR_DOWN_B: *std = 0.1f; break;
    case TR_Q: case TR_K: case TR_QKV: *std = 2 * s; break;
    case TR_SINKS: *std = 1; break;
    case TR_ROUTER_B: case TR_EXPERTS_GATE_UP_B: case TR_EXPERTS_DOWN_B: *std = 0.1f; break;
    default: break;
    }
}

static void tensor_add(const struct model_config *c, const struct tensor_desc *d, int l, struct synth_tensor *t)
{
    snprintf(t->name, sizeof t->name, d->name, l);
    int64_t d0 = arch_dim(c, d->d0), d1 = d->d1 ? arch_dim(c, d->d1) : 0;
    t->ndim = arch_stored_shape(c, d, t->shape);
    t->u8 = TR_IS_BLOCKS(d->role) ? 1 : TR_IS_SCALES(d->role) ? 2 : 0;
    /* fan-in: d1 of an [out, in] matrix, d0 of one stored [in, out] (transposed), else the length */
    role_init(c, d->role, d->transposed ? d0 : d1 ? d1 : d0, &t->mean, &t->std);
    if (t->u8 == 2) /* 2^e x random E2M1 (rms 2.93) has the spread 1/sqrt(in) */
        t->mean = (float)(127 + lround(log2(1 / (sqrt((double)d1) * 2.93))));
}

/* The family's tensors (model/arch.h): the embeddings, layer by layer, then the rest. */
static int tensor_list(const struct model_config *c, struct synth_tensor *t)
{
    const struct arch *a = c->arch;
    int n = 0;
    for (int i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].role <= TR_PROJ_IN && arch_present(c, &a->tensors[i]))
            tensor_add(c, &a->tensors[i], 0, &t[n++]);
    for (int l = 0; l < c->n_layers; l++)
        for (int i = 0; i < a->n_tensors; i++)
            if (a->tensors[i].role >= TR_LAYER_FIRST && arch_present(c, &a->tensors[i]))
                tensor_add(c, &a->tensors[i], l, &t[n++]);
    for (int i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].role > TR_PROJ_IN && a->tensors[i].role < TR_LAYER_FIRST && arch_present(c, &a->tensors[i]))
            tensor_add(c, &a->tensors[i], 0, &t[n++]);
    return n;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* n draws of mean + std * (approximately standard normal) */
static void fill_normal(float *x, size_t n, float mean, float std, uint64_t *state)
{
    const float k = std * sqrtf(3.0f) / 65536.0f; /* sum of 4 U(0,65536) has variance 4/12 * 65536^2 */
    for (size_t i = 0; i < n; i++) {
        uint64_t r = splitmix(state);
        float s = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) + (float)((r >> 32) & 0xffff) + (float)(r >> 48);
        x[i] = mean + (s - 2 * 65535.5f) * k;
    }
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

static enum ss_status write_tensors(const char *path, const struct model_config *c, const struct synth_opts *o,
                                    struct ss_error *err)
{
    struct synth_tensor *ts = malloc(((size_t)c->n_layers + 1) * c->arch->n_tensors * sizeof *ts);
    if (!ts)
        return ss_fail(err, SS_ERR_NOMEM, "%s: out of memory", path);
    int n = tensor_list(c, ts);
    size_t esz = o->bf16 ? 2 : 4;
    json_t *h = json_object();
    json_object_set_new(h, "__metadata__", json_pack("{s:s,s:s}", "format", "pt", "generator", "sinkscope synth"));
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = numel_of(&ts[i]), end = off + numel * (ts[i].u8 ? 1 : esz);
        json_t *shape = json_array();
        for (int k = 0; k < ts[i].ndim; k++)
            json_array_append_new(shape, json_integer(ts[i].shape[k]));
        json_object_set_new(h, ts[i].name, json_pack("{s:s,s:o,s:[I,I]}", "dtype",
                                                     ts[i].u8 ? "U8" : o->bf16 ? "BF16" : "F32", "shape", shape,
                                                     "data_offsets", (json_int_t)off, (json_int_t)end));
        off = end;
    }
    char *hs = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    FILE *f = hs ? fopen(path, "wb") : NULL;
    enum ss_status st = SS_OK;
    if (!f) {
        st = ss_fail(err, hs ? SS_ERR_IO : SS_ERR_NOMEM, "%s: cannot create: %s", path, hs ? strerror(errno) : "out of memory");
        free(hs);
        free(ts);
        return st;
    }
    size_t hl = strlen(hs), padded = (hl + 7) / 8 * 8; /* header padded with spaces to a multiple of 8 */
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hs, 1, hl, f) == hl;
    for (size_t i = hl; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    free(hs);
    enum { CHUNK = 1 << 20 };
    float *buf = malloc(CHUNK * sizeof *buf);
    uint16_t *hb = malloc(CHUNK * sizeof *hb);
    ok = ok && buf && hb;
    for (int i = 0; ok && i < n; i++) {
        uint64_t numel = numel_of(&ts[i]);
        uint64_t state = o->seed * 0x2545f4914f6cdd1dull ^ name_hash(ts[i].name);
        for (uint64_t a = 0; ok && a < numel; a += CHUNK) {
            size_t m = numel - a < CHUNK ? (size_t)(numel - a) : CHUNK;
            if (ts[i].u8) { /* MXFP4 blocks: any byte is two E2M1 values; scales: one exponent */
                uint8_t *b = (uint8_t *)hb;
                for (size_t j = 0; j < m; j++)
                    b[j] = ts[i].u8 == 1 ? (uint8_t)(splitmix(&state) >> 56) : (uint8_t)ts[i].mean;
                ok = fwrite(b, 1, m, f) == m;
                continue;
            }
            fill_normal(buf, m, ts[i].mean, ts[i].std, &state);
            if (o->bf16) {
                for (size_t j = 0; j < m; j++)
                    hb[j] = st_f32_to_bf16(buf[j]);
                ok = fwrite(hb, 2, m, f) == m;
            } else
                ok = fwrite(buf, 4, m, f) == m;
        }
    }
    free(buf);
    free(hb);
    free(ts);
    if (fclose(f) || !ok)
        st = ss_fail(err, SS_ERR_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
    return st;
}

/* Where DIR stands: 0 absent, 1 an empty directory, 2 a non-empty one; SS_ERR_* with the message otherwise. */
static enum ss_status dest_state(const char *dir, int *state, struct ss_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT && lstat(dir, &sb) != 0) {
            *state = 0;
            return SS_OK;
        }
        return ss_fail(err, errno == ENOENT ? SS_ERR_INPUT : SS_ERR_IO, "%s: cannot use as the output directory: %s",
                       dir, errno == ENOENT ? "a dangling symlink" : strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return ss_fail(err, SS_ERR_INPUT, "%s: exists and is not a directory", dir);
    int e = dir_is_empty(dir);
    if (e < 0)
        return ss_fail(err, SS_ERR_IO, "%s: cannot read directory: %s", dir, strerror(errno));
    *state = e ? 1 : 2;
    return SS_OK;
}

/* Put the finished tmp directory at dir: a new name atomically and only if still absent
 * (RENAME_NOREPLACE), an empty directory by rename (fails once it is not empty), a
 * non-empty one (--force) file by file, replacing just the checkpoint's two files. */
static enum ss_status commit_dir(const char *tmp, const char *dir, int state, struct ss_error *err)
{
    int rc;
    if (state == 2) {
        static const char *names[] = {"model.safetensors", "config.json"}; /* config last: complete-looking */
        for (int i = 0; i < 2; i++) {
            char a[PATH_MAX + 64], b[PATH_MAX + 64];
            snprintf(a, sizeof a, "%s/%s", tmp, names[i]);
            snprintf(b, sizeof b, "%s/%s", dir, names[i]);
            if (rename(a, b))
                return ss_fail(err, SS_ERR_IO, "%s: cannot replace: %s", b, strerror(errno));
        }
        rmdir(tmp);
        return SS_OK;
    }
    if (state == 1)
        rc = rename(tmp, dir);
    else if ((rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE)) && (errno == EINVAL || errno == ENOSYS))
        rc = rename(tmp, dir); /* no RENAME_NOREPLACE here: rename still refuses a non-empty directory */
    if (rc == 0)
        return SS_OK;
    if (errno == EEXIST || errno == ENOTEMPTY)
        return ss_fail(err, SS_ERR_INPUT, "%s: appeared or was filled while writing (refusing to overwrite)", dir);
    return ss_fail(err, SS_ERR_IO, "%s: cannot rename %s to it: %s", dir, tmp, strerror(errno));
}

static void remove_tmp_dir(const char *tmp)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/model.safetensors", tmp);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", tmp);
    unlink(p);
    rmdir(tmp);
}

enum ss_status synth_write(const char *dir, const struct synth_opts *o, struct ss_error *err)
{
    struct model_config c;
    enum ss_status st = synth_config(&c, o, err);
    if (st)
        return st;
    char d[PATH_MAX], tmp[PATH_MAX + 32], cpath[PATH_MAX + 64], wpath[PATH_MAX + 64];
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') /* "out/" -> "out", so the temporary is its sibling */
        n--;
    if (n >= sizeof d)
        return ss_fail(err, SS_ERR_INPUT, "%.200s...: output path too long", dir);
    memcpy(d, dir, n);
    d[n] = 0;
    int state;
    if ((st = dest_state(d, &state, err)))
        return st;
    if (state == 2 && !o->force)
        return ss_fail(err, SS_ERR_INPUT, "%s: directory is not empty (refusing to overwrite; --force replaces "
                       "its config.json and model.safetensors)", d);
    /* everything is written into the sibling DIR.tmp-PID and moved in at the end: an
     * interrupted or failed synth leaves nothing at DIR */
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", d, (long)getpid());
    if (mkdir(tmp, 0755))
        return ss_fail(err, SS_ERR_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
    snprintf(cpath, sizeof cpath, "%s/config.json", tmp);
    snprintf(wpath, sizeof wpath, "%s/model.safetensors", tmp);
    st = write_tensors(wpath, &c, o, err);
    if (!st)
        st = synth_write_config(cpath, &c, err);
    if (!st)
        st = commit_dir(tmp, d, state, err);
    if (st)
        remove_tmp_dir(tmp);
    return st;
}
