/* model/rope.c — RoPE inverse frequencies for default, linear, llama3, yarn and longrope
 * scaling, computed in float32 step by step as transformers does (its
 * ROPE_INIT_FUNCTIONS), so the tables agree to the last bit or two. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* base ** (2i/dim) for i < dim/2: float32 exponent, power rounded from double. */
static float pos_freq(double base, int i, int dim)
{
    float e = (float)(2 * i) / (float)dim;
    return (float)pow((double)(float)base, (double)e);
}

static double yarn_mscale(double scale, double m)
{
    return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0;
}

float rope_attention_factor(const struct rope_config *r, int max_pos)
{
    (void)max_pos;
    if (r->type == ROPE_TYPE_LONGROPE) { /* transformers: sqrt(1 + ln(factor) / ln(original)) unless given */
        if (r->attention_factor)
            return (float)r->attention_factor;
        return r->factor <= 1 ? 1.0f : (float)sqrt(1 + log(r->factor) / log((double)r->original_max_pos));
    }
    if (r->type != ROPE_TYPE_YARN)
        return 1.0f;
    if (r->attention_factor)
        return (float)r->attention_factor;
    if (r->mscale && r->mscale_all_dim)
        return (float)(yarn_mscale(r->factor, r->mscale) / yarn_mscale(r->factor, r->mscale_all_dim));
    return (float)yarn_mscale(r->factor, 1);
}

/* Dimension (of dim) at which a frequency makes `rot` turns over the original context. */
static double yarn_correction_dim(double rot, int dim, double base, int orig)
{
    return dim * log(orig / (rot * 2 * M_PI)) / (2 * log(base));
}

void rope_inv_freq(const struct rope_config *r, int dim, int max_pos, float *inv)
{
    int half = dim / 2;
    for (int i = 0; i < half; i++)
        inv[i] = 1.0f / pos_freq(r->theta, i, dim);
    if (r->type == ROPE_TYPE_LONGROPE) { /* 1 / (ext_factor[i] * base^(2i/dim)), short factors */
        for (int i = 0; i < half && i < r->n_factors; i++)
            inv[i] = 1.0f / (r->short_factor[i] * pos_freq(r->theta, i, dim));
    } else if (r->type == ROPE_TYPE_LINEAR) {
        for (int i = 0; i < half; i++)
            inv[i] = inv[i] / (float)r->factor;
    } else if (r->type == ROPE_TYPE_LLAMA3) {
        /* long wavelengths divided by factor, short kept, a smooth blend between */
        double orig = r->original_max_pos, lo_wl = orig / r->low_freq_factor, hi_wl = orig / r->high_freq_factor;
        float f = (float)r->factor;
        for (int i = 0; i < half; i++) {
            float wl = (1.0f / inv[i]) * (float)(2 * M_PI);
            float il = wl > (float)lo_wl ? inv[i] / f : inv[i];
            float smooth = ((1.0f / wl) * (float)orig - (float)r->low_freq_factor) /
                           (float)(r->high_freq_factor - r->low_freq_factor);
            float smoothed = (1.0f - smooth) * il / f + smooth * il;
            int medium = !(wl < (float)hi_wl) && !(wl > (float)lo_wl);
            inv[i] = medium ? smoothed : il;
        }
    } else if (r->type == ROPE_TYPE_YARN) {
        /* blend interpolated (1/(factor*base^e)) and extrapolated frequencies with a linear
         * ramp between the correction dims of beta_fast and beta_slow */
        int orig = r->original_max_pos > 0 ? r->original_max_pos : max_pos;
        double lo = yarn_correction_dim(r->beta_fast, dim, r->theta, orig);
        double hi = yarn_correction_dim(r->beta_slow, dim, r->theta, orig);
        if (r->truncate) {
            lo = floor(lo);
            hi = ceil(hi);
        }
        if (lo < 0)
            lo = 0;
        if (hi > dim - 1)
            hi = dim - 1;
        if (lo == hi)
            hi += 0.001;
        for (int i = 0; i < half; i++) {
            float ramp = ((float)i - (float)lo) / (float)(hi - lo);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            float pf = pos_freq(r->theta, i, dim);
            float extra = 1.0f / pf, inter = 1.0f / ((float)r->factor * pf);
            float ef = 1.0f - ramp;
            inv[i] = inter * (1.0f - ef) + extra * ef;
        }
    }
}

/* A factor >= 1 from text (whole string). */
static int parse_factor(const char *s, char **end, double *f)
{
    *f = strtod(s, end);
    return *end != s && isfinite(*f) && *f >= 1 ? 0 : -1;
}

int rope_scaling_parse(struct rope_config *out, const struct rope_config *base, int max_pos, const char *s,
                       char *why, size_t n)
{
    struct rope_config r = {0};
    r.theta = base->theta;
    char *end;
    if (!s || !*s) {
        snprintf(why, n, "empty value (none, linear:F or yarn:F[:ORIG])");
        return -1;
    }
    if (!strcmp(s, "none")) {
        r.type = ROPE_TYPE_DEFAULT;
    } else if (!strncmp(s, "linear:", 7)) {
        r.type = ROPE_TYPE_LINEAR;
        if (parse_factor(s + 7, &end, &r.factor) || *end) {
            snprintf(why, n, "'%s': the linear factor must be a number >= 1", s);
            return -1;
        }
    } else if (!strncmp(s, "yarn:", 5)) {
        r.type = ROPE_TYPE_YARN;
        if (!strncmp(s + 5, "auto", 4) && (!s[9] || s[9] == ':')) { /* factor = T / ORIG, set per run */
            r.factor = 0;
            end = (char *)s + 9;
        } else if (parse_factor(s + 5, &end, &r.factor) || (*end && *end != ':')) {
            snprintf(why, n, "'%s': the YaRN factor must be a number >= 1", s);
            return -1;
        }
        r.original_max_pos = max_pos;
        if (*end == ':') {
            char *e2;
            long o = strtol(end + 1, &e2, 10);
            if (e2 == end + 1 || *e2 || o <= 0 || o > 1 << 30) {
                snprintf(why, n, "'%s': ORIG must be a positive number of positions", s);
                return -1;
            }
            r.original_max_pos = (int)o;
        }
        r.beta_fast = 32, r.beta_slow = 1, r.truncate = 1;
    } else {
        snprintf(why, n, "'%s' is not none, linear:F or yarn:F[:ORIG]", s);
        return -1;
    }
    *out = r;
    return 0;
}

void rope_factor_for_length(struct rope_config *r, int T)
{
    if (r->type == ROPE_TYPE_YARN && r->factor == 0)
        r->factor = r->original_max_pos > 0 && T > r->original_max_pos ? (double)T / r->original_max_pos : 1.0;
}

void rope_config_describe(const struct rope_config *r, int max_pos, char *buf, size_t n)
{
    switch (r->type) {
    case ROPE_TYPE_LINEAR: snprintf(buf, n, "linear:%g", r->factor); break;
    case ROPE_TYPE_LLAMA3: snprintf(buf, n, "llama3:%g", r->factor); break;
    case ROPE_TYPE_YARN:
        snprintf(buf, n, "yarn:%g:%d", r->factor, r->original_max_pos > 0 ? r->original_max_pos : max_pos);
        break;
    default: snprintf(buf, n, "default");
    }
}
