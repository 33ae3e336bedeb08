#!/usr/bin/env python3
"""Train the three demo checkpoints of `make demo` on one GPU, in one process:
baseline, gated headwise and gated elementwise Qwen3-style models, same data
order, seed and hyperparameters; plus the byte-level BPE tokenizer they use.

    python3 train/train.py --corpus build/corpus/train.txt.xz --heldout demo/heldout.txt \
        --out /tmp/demo_out [--deadline 470] [--smoke]

Steps (each timed and logged):
 1. train an 8192-token byte-level BPE (HF tokenizers; Qwen2/3 pre-tokenizer regex,
    no normalizer so decode(encode(s)) == s) with special tokens <|bos|> (id 0) and
    <|endoftext|> (id 1); write tokenizer cases for the tests;
 2. encode the corpus; training windows are <|bos|> + 511 tokens of the running
    text (documents separated by a blank line, as in demo/heldout.txt);
 3. train the three models step by step on the same batches (bf16 autocast,
    AdamW, warmup + cosine); the step count is sized from the measured step time
    so that training ends by --deadline seconds after the start (hard guard too);
 4. on held-out windows: loss, first-token attention share, sink rate, max
    |hidden| per layer, gate mean (the numbers sinkscope will measure on the CPU);
 5. save each model as config.json + model.safetensors (bf16, tied embeddings,
    HF Qwen3 tensor names; q_proj carries the gate rows per KV group, as the
    paper's code lays them out) + training.json; tokenizer.json and
    tokenizer_config.json once in OUT/tokenizer/ (they belong in each model
    directory: copied there after the files come back, to keep the transfer small).
"""
import argparse
import json
import lzma
import math
import os
import sys
import time
import traceback

T0 = time.time()


def log(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
              r"\s*[\r\n]+|\s+(?!\S)|\s+")
BOS, EOS = "<|bos|>", "<|endoftext|>"


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------

def read_text(path, limit=None):
    op = lzma.open if path.endswith(".xz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return f.read(limit) if limit else f.read()


def train_tokenizer(docs, vocab, sample_chars):
    from tokenizers import Tokenizer, Regex, decoders, models, pre_tokenizers, trainers
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tk.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=[BOS, EOS],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    sample, n = [], 0
    for d in docs:          # docs are already in a fixed shuffled order
        sample.append(d)
        n += len(d)
        if n >= sample_chars:
            break
    tk.train_from_iterator(sample, trainer=tr, length=len(sample))
    return tk


def tokenizer_config():
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "model_max_length": 512,
        "clean_up_tokenization_spaces": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": {
            "0": {"content": BOS, "lstrip": False, "normalized": False, "rstrip": False,
                  "single_word": False, "special": True},
            "1": {"content": EOS, "lstrip": False, "normalized": False, "rstrip": False,
                  "single_word": False, "special": True},
        },
    }


def write_cases(tk, path):
    """Expected ids for the demo tokenizer (tests/fixtures/tokenizer/demo_cases.jsonl) and a
    decode(encode(s)) == s check."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "tests", "fixtures"))
    import gen_fixtures
    strings = gen_fixtures.tokenizer_strings()
    strings += ["<|bos|>", "<|bos|>Hello", "text <|bos|> text", "<|endoftext|><|bos|>", "<|bos |>"]
    bad = 0
    with open(path, "w", encoding="utf-8") as f:
        for s in strings:
            ids = tk.encode(s, add_special_tokens=False).ids
            back = tk.decode(ids, skip_special_tokens=False)
            if back != s:
                bad += 1
                log("roundtrip differs: %r -> %r" % (s, back))
            f.write(json.dumps({"text": s, "ids": ids}, ensure_ascii=False) + "\n")
    log("tokenizer cases: %d strings, %d roundtrip failures -> %s" % (len(strings), bad, path))


# ---------------------------------------------------------------------------
# model: Qwen3 decoder with the paper's SDPA output gate fused into q_proj
# ---------------------------------------------------------------------------

def build(torch, cfg, gate):
    nn = torch.nn
    F = torch.nn.functional
    d, H, KV, D, ffn, V, L = (cfg[k] for k in ("hidden", "heads", "kv", "head_dim", "ffn", "vocab", "layers"))
    G = H // KV
    gw = 0 if gate == "none" else (G if gate == "headwise" else G * D)

    class RMSNorm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(n))

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(d, KV * (G * D + gw), bias=False)
            self.k_proj = nn.Linear(d, KV * D, bias=False)
            self.v_proj = nn.Linear(d, KV * D, bias=False)
            self.o_proj = nn.Linear(H * D, d, bias=False)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = nn.Linear(d, ffn, bias=False)
            self.up_proj = nn.Linear(d, ffn, bias=False)
            self.down_proj = nn.Linear(ffn, d, bias=False)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = RMSNorm(d)
            self.self_attn = Attn()
            self.post_attention_layernorm = RMSNorm(d)
            self.mlp = MLP()

        def params(self):
            a, m = self.self_attn, self.mlp
            return (self.input_layernorm.weight, a.q_proj.weight, a.k_proj.weight, a.v_proj.weight,
                    a.o_proj.weight, self.post_attention_layernorm.weight, m.gate_proj.weight,
                    m.up_proj.weight, m.down_proj.weight)

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(V, d)
            self.layers = nn.ModuleList([Layer() for _ in range(L)])
            self.norm = RMSNorm(d)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Inner()
            self.gate = gate
            self.gw = gw

    m = LM()
    # init: N(0, 0.02); residual output projections scaled by 1/sqrt(2L)
    g = torch.Generator().manual_seed(cfg["seed"])
    for name, p in m.named_parameters():
        with torch.no_grad():
            if name.endswith("layernorm.weight") or name.endswith("norm.weight"):
                p.fill_(1.0)
            else:
                std = 0.02 / math.sqrt(2 * L) if ("o_proj" in name or "down_proj" in name) else 0.02
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return m


def rms(torch, x, w, eps):
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * y.to(x.dtype)


def rotate_half(torch, x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def make_block(torch, cfg, gw, stats_mode=False):
    """block(x, cos, sin, *9 weights) -> x'. stats_mode: explicit float32 attention,
    returns (x', attention probabilities column 0 [B,H,T], gate values or None)."""
    F = torch.nn.functional
    d, H, KV, D = cfg["hidden"], cfg["heads"], cfg["kv"], cfg["head_dim"]
    G = H // KV
    eps = cfg["eps"]

    def block(x, cos, sin, w_in, wq, wk, wv, wo, w_post, wg, wu, wd):
        B, T, _ = x.shape
        h = rms(torch, x, w_in, eps)
        qa = F.linear(h, wq).view(B, T, KV, G * D + gw)
        if gw:
            q, gl = qa.split([G * D, gw], dim=-1)
            gl = gl.reshape(B, T, H, 1 if gw == G else D)
        else:
            q, gl = qa, None
        q = q.reshape(B, T, H, D).transpose(1, 2)
        k = F.linear(h, wk).view(B, T, KV, D).transpose(1, 2)
        v = F.linear(h, wv).view(B, T, KV, D).transpose(1, 2)
        c, s = cos.to(q.dtype), sin.to(q.dtype)
        q = q * c + rotate_half(torch, q) * s
        k = k * c + rotate_half(torch, k) * s
        k = k.repeat_interleave(G, dim=1)
        v = v.repeat_interleave(G, dim=1)
        a0 = None
        if stats_mode:
            sc = torch.matmul(q.float(), k.float().transpose(-1, -2)) / math.sqrt(D)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            p = torch.softmax(sc.masked_fill(~mask, float("-inf")), dim=-1)
            a0 = p[..., 0]                                  # [B, H, T]
            y = torch.matmul(p, v.float()).to(q.dtype)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2)                               # [B, T, H, D]
        gv = None
        if gl is not None:
            gv = torch.sigmoid(gl)
            y = y * gv.to(y.dtype)
        x = x + F.linear(y.reshape(B, T, H * D), wo)
        h = rms(torch, x, w_post, eps)
        x = x + F.linear(F.silu(F.linear(h, wg)) * F.linear(h, wu), wd)
        if stats_mode:
            return x, a0, gv
        return x

    return block


def rope_tables(torch, cfg, T, device):
    D = cfg["head_dim"]
    inv = 1.0 / (cfg["theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    pos = torch.arange(T).float()
    fr = torch.outer(pos, inv)
    emb = torch.cat((fr, fr), dim=-1)
    return emb.cos().to(device)[None, None], emb.sin().to(device)[None, None]   # [1,1,T,D]


def forward(torch, m, ids, cos, sin, block):
    x = m.model.embed_tokens(ids)
    for layer in m.model.layers:
        x = block(x, cos, sin, *layer.params())
    x = rms(torch, x, m.model.norm.weight, 1e-6)
    return torch.nn.functional.linear(x, m.model.embed_tokens.weight)


# ---------------------------------------------------------------------------
# evaluation: what sinkscope measures, on the GPU
# ---------------------------------------------------------------------------

def evaluate(torch, m, cfg, windows, cos, sin, eps_sink=0.3):
    blk = make_block(torch, cfg, m.gw, stats_mode=True)
    L, H = cfg["layers"], cfg["heads"]
    ft = torch.zeros(L, H, dtype=torch.float64)     # mean over q>=1 of A[q,0]
    al = torch.zeros(L, H, dtype=torch.float64)     # mean over all q of A[q,0] (Gu's alpha_0)
    mx = torch.zeros(L, dtype=torch.float64)
    gsum, gcnt = torch.zeros(L, dtype=torch.float64), 0
    g0sum = 0.0
    nll, ntok = 0.0, 0
    nb = 0
    with torch.no_grad():
        for i in range(0, windows.shape[0], 8):
            ids = windows[i:i + 8]
            # float32 from the bf16-rounded weights, as sinkscope will run the saved checkpoint
            emb = m.model.embed_tokens.weight.to(torch.bfloat16).float()
            x = emb[ids]
            for li, layer in enumerate(m.model.layers):
                x, a0, gv = blk(x, cos, sin, *[p.to(torch.bfloat16).float() for p in layer.params()])
                ft[li] += a0[:, :, 1:].mean(dim=(0, 2)).double().cpu() * ids.shape[0]
                al[li] += a0.mean(dim=(0, 2)).double().cpu() * ids.shape[0]
                mx[li] = max(mx[li], float(x.abs().max()))
                if gv is not None:
                    gsum[li] += float(gv.double().mean()) * ids.shape[0]
                    if li == 0:
                        g0sum += float(gv[:, 0].double().mean()) * ids.shape[0]
            nb += ids.shape[0]
            x = rms(torch, x, m.model.norm.weight.to(torch.bfloat16).float(), 1e-6)
            logits = torch.nn.functional.linear(x, emb)
            l = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                  ids[:, 1:].reshape(-1), reduction="sum")
            nll += float(l)
            ntok += ids[:, 1:].numel()
    ft /= nb
    al /= nb
    r = {
        "heldout_windows": nb,
        "heldout_loss": nll / ntok,
        "first_token_share": float(ft.mean()),
        "first_token_share_per_layer": [round(float(v), 4) for v in ft.mean(dim=1)],
        "sink_rate": float((al > eps_sink).double().mean()),
        "max_activation_per_layer": [round(float(v), 2) for v in mx],
        "max_activation_mean": float(mx.mean()),
        "max_activation": float(mx.max()),
    }
    if m.gw:
        r["gate_mean"] = float(gsum.sum() / nb / L)
        r["gate_mean_per_layer"] = [round(float(v) / nb, 4) for v in gsum]
        r["gate_mean_layer0_pos0"] = g0sum / nb
    return r


# ---------------------------------------------------------------------------
# saving in the paper's checkpoint format
# ---------------------------------------------------------------------------

def hf_config(cfg, gate):
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "vocab_size": cfg["vocab"],
        "hidden_size": cfg["hidden"],
        "intermediate_size": cfg["ffn"],
        "num_hidden_layers": cfg["layers"],
        "num_attention_heads": cfg["heads"],
        "num_key_value_heads": cfg["kv"],
        "head_dim": cfg["head_dim"],
        "hidden_act": "silu",
        "max_position_embeddings": cfg["ctx"],
        "rms_norm_eps": cfg["eps"],
        "rope_theta": cfg["theta"],
        "rope_scaling": None,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "qkv_bias": False,
        "use_qk_norm": False,
        "headwise_attn_output_gate": gate == "headwise",
        "elementwise_attn_output_gate": gate == "elementwise",
        "bos_token_id": 0,
        "eos_token_id": 1,
        "initializer_range": 0.02,
        "use_cache": True,
        "use_sliding_window": False,
        "sliding_window": None,
    }


def save_tokenizer(d, tok_json):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tok_json)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(), f, indent=2)


def save_model(torch, m, cfg, gate, d, extra):
    from safetensors.torch import save_file
    os.makedirs(d, exist_ok=True)
    sd = {k: v.detach().to(torch.bfloat16).contiguous().cpu() for k, v in m.state_dict().items()}
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf_config(cfg, gate), f, indent=2)
    with open(os.path.join(d, "training.json"), "w") as f:
        json.dump(extra, f, indent=1)
    n = sum(v.numel() for v in sd.values())
    log("saved %s: %d tensors, %d parameters, %d bytes" % (d, len(sd), n,
                                                          os.path.getsize(os.path.join(d, "model.safetensors"))))


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", help="write the demo tokenizer's test cases here")
    ap.add_argument("--deadline", type=float, default=470.0, help="seconds after start when training must end")
    ap.add_argument("--smoke", action="store_true", help="tiny end-to-end check of every stage")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=576)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    a = ap.parse_args()

    import numpy as np
    import torch
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    log("torch %s device %s %s" % (torch.__version__, dev, torch.cuda.get_device_name(0) if dev == "cuda" else ""))

    cfg = dict(vocab=8192, hidden=a.hidden, heads=4, kv=2, head_dim=64, ffn=a.ffn, layers=a.layers, ctx=512,
               eps=1e-6, theta=10000.0, seed=20251128, batch=a.batch, lr=a.lr, wd=0.1, betas=(0.9, 0.95),
               warmup=300, min_lr_frac=0.1, clip=1.0)
    if a.smoke:
        cfg.update(layers=2, hidden=128, ffn=256, batch=8, warmup=5)
    os.makedirs(a.out, exist_ok=True)

    # 1. text and tokenizer
    text = read_text(a.corpus, 3_000_000 if a.smoke else None)
    docs = [d for d in text.split("\n\n") if d.strip()]
    # re-join paragraphs into the corpus documents is not needed: the stream is the text itself
    log("corpus: %d chars, %d paragraphs" % (len(text), len(docs)))
    tk = train_tokenizer(docs, cfg["vocab"], 1_000_000 if a.smoke else 25_000_000)
    assert tk.token_to_id(BOS) == 0 and tk.token_to_id(EOS) == 1, "special token ids"
    log("tokenizer trained: vocab %d" % tk.get_vocab_size())
    tok_json = tk.to_str(pretty=True)
    save_tokenizer(os.path.join(a.out, "tokenizer"), tok_json)   # copied into each model directory later
    if a.cases:
        try:
            write_cases(tk, a.cases)
        except Exception:
            log("tokenizer cases FAILED\n" + traceback.format_exc())

    # 2. encode: chunks of paragraphs, joined by the ids of "\n\n" (what the text is)
    sep = tk.encode("\n\n", add_special_tokens=False).ids
    chunks, cur, n = [], [], 0
    for d in docs:
        cur.append(d)
        n += len(d)
        if n > 20000:
            chunks.append("\n\n".join(cur))
            cur, n = [], 0
    if cur:
        chunks.append("\n\n".join(cur))
    enc = tk.encode_batch(chunks, add_special_tokens=False)
    parts = []
    for e in enc:
        parts.append(np.asarray(e.ids, dtype=np.int32))
        parts.append(np.asarray(sep, dtype=np.int32))
    stream = np.concatenate(parts)
    nchars = len(text)
    del enc, parts, text, docs, chunks
    log("encoded: %d tokens (%.2f chars/token)" % (len(stream), nchars / max(1, len(stream))))
    held_text = read_text(a.heldout)
    held_ids = np.asarray(tk.encode(held_text, add_special_tokens=False).ids, dtype=np.int64)
    C = cfg["ctx"] - 1
    nh = min(len(held_ids) // C, 8 if a.smoke else 48)
    hw = np.concatenate([np.zeros((nh, 1), dtype=np.int64), held_ids[:nh * C].reshape(nh, C)], axis=1)
    held = torch.from_numpy(hw).to(dev)
    log("heldout: %d chars, %d tokens (%.2f chars/token), %d eval windows of %d"
        % (len(held_text), len(held_ids), len(held_text) / max(1, len(held_ids)), nh, cfg["ctx"]))

    data = torch.from_numpy(stream.astype(np.int64)).to(dev)
    nwin = (len(stream) - 1) // C
    log("train stream %d tokens -> %d windows of BOS + %d" % (len(stream), nwin, C))

    # 3. models
    torch.manual_seed(cfg["seed"])
    gates = ["none", "headwise", "elementwise"]
    names = {"none": "baseline", "headwise": "gated_headwise", "elementwise": "gated_elementwise"}
    models, opts = {}, {}
    for gk in gates:
        m = build(torch, cfg, gk).to(dev)
        decay = [p for n_, p in m.named_parameters() if p.dim() == 2]
        nodecay = [p for n_, p in m.named_parameters() if p.dim() < 2]
        kw = dict(lr=cfg["lr"], betas=cfg["betas"], eps=1e-8)
        try:
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["wd"]},
                                     {"params": nodecay, "weight_decay": 0.0}], fused=(dev == "cuda"), **kw)
        except Exception:
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["wd"]},
                                     {"params": nodecay, "weight_decay": 0.0}], **kw)
        models[gk], opts[gk] = m, opt
        log("%s: %d parameters (q_proj %s)" % (names[gk], sum(p.numel() for p in m.parameters()),
                                              tuple(m.model.layers[0].self_attn.q_proj.weight.shape)))
    cos, sin = rope_tables(torch, cfg, cfg["ctx"], dev)
    blocks = {gk: make_block(torch, cfg, models[gk].gw) for gk in gates}
    use_compile = not (a.smoke or a.no_compile) and dev == "cuda"
    if use_compile:
        import torch._dynamo
        torch._dynamo.config.cache_size_limit = 64
        blocks_c = {gk: torch.compile(blocks[gk]) for gk in gates}
    else:
        blocks_c = blocks

    gen = torch.Generator(device="cpu").manual_seed(cfg["seed"])
    perm, pi, epoch = torch.randperm(nwin, generator=gen), 0, 0
    B = cfg["batch"]
    ar = torch.arange(C + 1, device=dev)

    def next_batch():
        nonlocal perm, pi, epoch
        if pi + B > len(perm):
            perm, pi, epoch = torch.randperm(nwin, generator=gen), 0, epoch + 1
        idx = perm[pi:pi + B].to(dev)
        pi += B
        seg = data[(idx * C)[:, None] + ar[None, :]]                                    # [B, C + 1]
        x = torch.cat([torch.zeros(B, 1, dtype=torch.long, device=dev), seg[:, :C]], dim=1)  # BOS + C tokens
        return x, seg                                                                   # next token at every position

    hist = {gk: [] for gk in gates}
    planned = 40 if a.smoke else None
    step, t_meas0, tok_seen = 0, None, 0
    deadline = T0 + (60 if a.smoke else a.deadline)

    def lr_at(s):
        if s < cfg["warmup"]:
            return cfg["lr"] * (s + 1) / cfg["warmup"]
        tot = planned if planned else 10 ** 9
        p = min(1.0, (s - cfg["warmup"]) / max(1, tot - cfg["warmup"]))
        return cfg["lr"] * (cfg["min_lr_frac"] + (1 - cfg["min_lr_frac"]) * 0.5 * (1 + math.cos(math.pi * p)))

    def train_step(gk, x, y, lr):
        m, opt = models[gk], opts[gk]
        for gr in opt.param_groups:
            gr["lr"] = lr
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=(dev == "cuda")):
            logits = forward(torch, m, x, cos, sin, blocks_c[gk])
        loss = torch.nn.functional.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(m.parameters(), cfg["clip"])
        opt.step()
        return loss, gn

    stopped_by = "plan"
    while True:
        if planned is not None and step >= planned:
            break
        if time.time() > deadline:
            stopped_by = "deadline"
            break
        x, y = next_batch()
        lr = lr_at(step)
        losses = {}
        for gk in gates:
            try:
                losses[gk] = train_step(gk, x, y, lr)
            except Exception:
                if use_compile and step == 0:
                    log("torch.compile failed; falling back to eager\n" + traceback.format_exc())
                    use_compile = False
                    blocks_c.update(blocks)
                    losses[gk] = train_step(gk, x, y, lr)
                else:
                    raise
        step += 1
        tok_seen += B * cfg["ctx"]
        if step in (1, 2, 3) or step % 100 == 0 or (planned and step == planned):
            torch.cuda.synchronize() if dev == "cuda" else None
            vals = {gk: (float(losses[gk][0]), float(losses[gk][1])) for gk in gates}
            for gk in gates:
                hist[gk].append([step, tok_seen, round(vals[gk][0], 4), round(vals[gk][1], 3), lr])
            log("step %d tokens %.1fM lr %.2e epoch %d | %s" % (
                step, tok_seen / 1e6, lr, epoch,
                " ".join("%s %.3f (gn %.2f)" % (names[gk], *vals[gk]) for gk in gates)))
        if step == 10 and planned is None:
            torch.cuda.synchronize() if dev == "cuda" else None
            t_meas0 = time.time()
        if step == 40 and planned is None:
            torch.cuda.synchronize() if dev == "cuda" else None
            dt = (time.time() - t_meas0) / 30
            left = deadline - time.time()
            planned = step + int(left / dt * 0.96)
            log("measured %.1f ms/step for 3 models (%.0fk tokens/s per model); %.0fs left -> %d steps, %.0fM tokens"
                % (dt * 1e3, B * cfg["ctx"] / dt / 1e3, left, planned, planned * B * cfg["ctx"] / 1e6))
    torch.cuda.synchronize() if dev == "cuda" else None
    log("training done: %d steps, %.1fM tokens per model, %d epochs+, stopped by %s"
        % (step, tok_seen / 1e6, epoch, stopped_by))

    # 4 + 5. evaluate and save (each model on its own, so one failure loses nothing else)
    summary = {}
    for gk in gates:
        m = models[gk].eval()
        r = {}
        try:
            r = evaluate(torch, m, cfg, held, cos.float(), sin.float())
            log("EVAL %s %s" % (names[gk], json.dumps(r)))
        except Exception:
            log("eval of %s FAILED\n%s" % (names[gk], traceback.format_exc()))
        extra = {"model": names[gk], "gate": gk, "config": {k: v for k, v in cfg.items()},
                 "steps": step, "tokens_per_model": tok_seen, "train_stream_tokens": int(len(stream)),
                 "epochs_started": epoch + 1, "stopped_by": stopped_by, "wall_s": round(time.time() - T0, 1),
                 "compiled": use_compile, "loss_curve": hist[gk], "gpu_eval": r}
        summary[names[gk]] = {k: v for k, v in extra.items() if k != "loss_curve"}
        try:
            save_model(torch, m, cfg, gk, os.path.join(a.out, names[gk]), extra)
        except Exception:
            log("save of %s FAILED\n%s" % (names[gk], traceback.format_exc()))
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log("done")


if __name__ == "__main__":
    main()
