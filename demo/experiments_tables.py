#!/usr/bin/env python3
"""The tables of docs/EXPERIMENTS.md from the `sinkscope summary --format json`
files that demo/experiments.sh writes next to its run files (standard library
only). Usage: python3 demo/experiments_tables.py demo/out/exp > tables.md"""
import json
import math
import os
import re
import sys

D = sys.argv[1]
MODELS = [("baseline", "baseline"), ("gated_headwise", "headwise"), ("gated_elementwise", "elementwise")]
CTX = [512, 1024, 2048, 4096]


def load(name):
    with open(os.path.join(D, name + ".json")) as f:
        return json.load(f)


def f3(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.3f" % x


def ppl(x):
    return "-" if x is None else ("%.2f" % x if x < 1000 else "%.3g" % x)


def windows(r):
    return "%d x %d" % (r["n_seqs"], r["context_length"])


def loss_range(r, lo, hi):
    """Mean NLL of the predictions at positions [lo, hi), from the 128-position buckets
    (each bucket weighted by its predictions: 128, the last one 127)."""
    lp = r.get("loss_by_position")
    if not lp:
        return None
    b, v = lp["bucket"], lp["mean_nll"]
    T = r["context_length"]
    s = n = 0.0
    for i, m in enumerate(v):
        a, e = i * b, min((i + 1) * b, T - 1)
        if a >= lo and e <= hi and m is not None:
            s += m * (e - a)
            n += e - a
    return s / n if n else None


out = []
p = out.append
p("### 1. Length: trained RoPE vs YaRN (factor = context / 512)\n")
p("Each point: 8192 tokens (16 x 512, 8 x 1024, 4 x 2048, 2 x 4096 windows).\n")
p("| model | RoPE | metric | " + " | ".join(str(c) for c in CTX) + " |")
p("|---|---|---|" + "---:|" * len(CTX))
for m, lab in MODELS:
    for pre, rope in (("len", "trained"), ("yarn", "YaRN")):
        rs = [load("%s_%s-c%d" % (pre, m, c)) for c in CTX]
        p("| %s | %s | PPL | %s |" % (lab, rope, " | ".join(ppl(r["perplexity"]) for r in rs)))
        p("| %s | %s | F-Attn | %s |" % (lab, rope, " | ".join(f3(r["first_token_share"]) for r in rs)))
        p("| %s | %s | sink rate | %s |" % (lab, rope, " | ".join(f3(r["sink_rate"]) for r in rs)))
p("\nLoss by position in the 4096-token windows (mean NLL in nats over the predictions made at "
  "positions in the range; 2 windows):\n")
RANGES = [(0, 512), (512, 1024), (1024, 2048), (2048, 4096)]
p("| model | RoPE | " + " | ".join("%d-%d" % (a, b - 1) for a, b in RANGES) + " |")
p("|---|---|" + "---:|" * len(RANGES))
for m, lab in MODELS:
    for pre, rope in (("len", "trained"), ("yarn", "YaRN x8")):
        r = load("%s_%s-c4096" % (pre, m))
        p("| %s | %s | %s |" % (lab, rope, " | ".join(f3(loss_range(r, a, b)) for a, b in RANGES)))

p("\n### 2. Streaming at 2048: window 256, with 0 and 4 sink tokens\n")
p("| model | full causal PPL | window 256 PPL | window 256 + 4 sinks PPL | F-Attn (w256, 0 / 4 sinks) | windows |")
p("|---|---:|---:|---:|---:|---|")
for m, lab in MODELS:
    full = load("len_%s-c2048" % m)
    s0, s4 = load("stream_%s_w256_s0" % m), load("stream_%s_w256_s4" % m)
    p("| %s | %s | %s | %s | %s / %s | %s |" % (lab, ppl(full["perplexity"]), ppl(s0["perplexity"]),
                                               ppl(s4["perplexity"]), f3(s0["first_token_share"]),
                                               f3(s4["first_token_share"]), windows(s0)))

p("\n### 3. Sink removal: `--mask-keys 0` at 512\n")
p("| model | PPL | PPL, key 0 masked | dPPL | F-Attn | F-Attn, masked | windows |")
p("|---|---:|---:|---:|---:|---:|---|")
for m, lab in MODELS:
    a, b = load("len_%s-c512" % m), load("mask0_%s" % m)
    p("| %s | %s | %s | %+.2f | %s | %s | %s |" % (lab, ppl(a["perplexity"]), ppl(b["perplexity"]),
                                                  b["perplexity"] - a["perplexity"], f3(a["first_token_share"]),
                                                  f3(b["first_token_share"]), windows(b)))

p("\n### 4. Massive activations (Sun et al.): zero vs mean ablation at 512\n")
p("| model | M-Act | max \\|x\\| | PPL | PPL, zero | PPL, mean | what the first pass found | windows |")
p("|---|---:|---:|---:|---:|---:|---|---|")
for m, lab in MODELS:
    a, z, mn = load("len_%s-c512" % m), load("ablate_zero_%s" % m), load("ablate_mean_%s" % m)
    what = re.sub(r"^.*ablate=", "", z["interventions"]).replace("|", "\\|")
    p("| %s | %.1f | %.1f | %s | %s | %s | %s | %s |" % (lab, a["max_activation_mean"], a["max_activation"],
                                                       ppl(a["perplexity"]), ppl(z["perplexity"]),
                                                       ppl(mn["perplexity"]), what, windows(z)))

p("\n### 5. Gates: `--gate off` and `--gate constant=mean`\n")
p("| model | gate | PPL | F-Attn | sink rate | M-Act | gate mean | windows |")
p("|---|---|---:|---:|---:|---:|---:|---|")
for m, lab in MODELS[1:]:
    for name, g in (("len_%s-c512" % m, "native"), ("gate_off_%s" % m, "off"), ("gate_mean_%s" % m, "constant=mean")):
        r = load(name)
        p("| %s | %s | %s | %s | %s | %.1f | %s | %s |" % (lab, g, ppl(r["perplexity"]), f3(r["first_token_share"]),
                                                         f3(r["sink_rate"]), r["max_activation_mean"],
                                                         f3(r["gate_mean"]), windows(r)))
print("\n".join(out))
