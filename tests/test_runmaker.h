/* tests/test_runmaker.h — writes a synthetic, schema-conformant run file
 * (docs/SCHEMA.md, sinkscope/1) with chosen values, through the plain HDF5 C API,
 * so analyze/ and plots/ tests need no model. Every statistic is a closed-form
 * function of (layer, head, ...) given below; tests compute their expectations
 * from the test_runmaker_* value functions or by hand from these formulas.
 *
 * Values (l = layer, h = head, L, H, T, S from the spec; f = sink_scale):
 *   first_token_share[l,h]   fts(l,h) = min(1, f * (0.5 + 0.04 l + 0.01 h)),
 *                            or peak_fts at (peak_layer, peak_head) when peak_fts >= 0
 *   first_token_share_incl0  (fts (T-1) + 1) / T
 *   sink_alpha[l,h,0]        = first_token_share_incl0; alpha_k = 0.05 / k for k >= 1
 *   sink_rate[k]             fraction of (l,h) with alpha_k > sink_epsilon
 *   attn_entropy[l,h]        1 + 0.1 l + 0.01 h
 *   act_max[l,s]             act_scale * (l+1) * (s+1) / 4   (s = stream 0..3; resid_post = 3)
 *   act_median[l,s]          0.5
 *   gate_mean[l,h]           0.1 + 0.02 l + 0.005 h (gated only); gate_std 0.05;
 *                            gate_min 0.001 (l+1); gate_max 0.9 - 0.01 h
 *   attn_meangate_frac_below[l,k]  0.1 + 0.01 l (k = 0), 0.01 + 0.001 l (k = 1) (gated only)
 *   nll[s,p]                 ln(perplexity) for p < T-1, NaN at p = T-1
 * /summary holds what these imply (docs/SCHEMA.md definitions).
 * Dumps (optional): attention A[q,0] = fts(l,h) (row 0: 1), A[q,k>=1] = (1-fts)/q for
 * k <= q; gates = gate_mean(l,h) everywhere. */
#ifndef SS_TESTS_TEST_RUNMAKER_H
#define SS_TESTS_TEST_RUNMAKER_H

struct test_run_spec {
    int n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab;
    int T, n_seqs;               /* context_length = T */
    const char *gate_kind;       /* "none", "headwise", "elementwise" */
    const char *gate_mode;       /* "native", "off", "constant=X" */
    const char *bos;             /* "none" or an id */
    const char *model_path, *model_type, *input_source;
    double sink_scale;           /* f above */
    double act_scale;            /* act_max scale */
    double perplexity;
    double sink_epsilon;
    int peak_layer, peak_head;   /* one (layer, head) with first_token_share = peak_fts */
    double peak_fts;             /* < 0: no peak */
    int token_offset;            /* /tokens[s,p] = (token_offset + s*T + p) % vocab */
    int with_token_text;         /* /token_text "tok<id>" (and a few with special characters) */
    int with_attention, with_gates; /* dumps of every layer */
    int dump_gzip;               /* gzip level of the dumps (0: none) */
    const char *schema;          /* NULL: "sinkscope/1"; "": no schema attribute */
    int vlen_strings;            /* 1: write string attributes as variable-length (readers must refuse) */
    const char *omit;            /* a dataset path left out (e.g. "/stats/act_max"), or NULL */
    const char *wrong_shape;     /* a dataset written with one extra entry on axis 0, or NULL */
};

/* Defaults: 2 layers, 2 heads (1 KV head), head_dim 4, hidden 8, vocab 64, T 8,
 * 2 sequences, ungated, native, bos none, sink_scale 1, act_scale 100,
 * perplexity 20, sink_epsilon 0.3, no peak, token text, no dumps. */
void test_run_spec_default(struct test_run_spec *s);

/* Write the run file; 0 on success, -1 on failure (message on stderr). */
int test_runmaker_write(const char *path, const struct test_run_spec *spec);

/* The value functions of the formulas above. */
double test_runmaker_fts(const struct test_run_spec *s, int l, int h);
double test_runmaker_fts_incl0(const struct test_run_spec *s, int l, int h);
double test_runmaker_entropy(const struct test_run_spec *s, int l, int h);
double test_runmaker_act_max(const struct test_run_spec *s, int l, int stream);
double test_runmaker_gate_mean(const struct test_run_spec *s, int l, int h);
double test_runmaker_meangate_frac(const struct test_run_spec *s, int l, int k); /* k = out_threshold */
double test_runmaker_sink_rate(const struct test_run_spec *s); /* k = 0 */
int test_runmaker_gated(const struct test_run_spec *s);

#endif
