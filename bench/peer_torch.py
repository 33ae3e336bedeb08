#!/usr/bin/python3
"""bench/peer_torch.py — the PyTorch-eager peer of `sinkscope run` (statistics mode).

What a Python user writes instead of sinkscope: load the checkpoint to float32
tensors, run the forward in eager mode keeping every attention map (as
output_attentions=True does) and computing the logits of every position (as the
HF model does; sinkscope's statistics include the loss), and compute the
first-token attention share per layer and head from the maps. Qwen3-style models as `sinkscope synth` writes them
(qk-norm; headwise/elementwise gate fused per KV group in q_proj; default RoPE).
usage: peer_torch.py MODEL_DIR TOKEN_FILE THREADS   (TOKEN_FILE: ids, comma-separated)
Prints load and forward seconds; exits 3 when torch is missing (the caller skips)."""
import json
import os
import struct
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"peer_torch: {e} (Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(3)


def load_safetensors(path):
    """name -> float32 torch tensor (what from_pretrained(torch_dtype=float32) holds)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = np.array(raw[a:b])
        if e["dtype"] == "BF16":
            t = torch.from_numpy(buf.view(np.int16)).view(torch.bfloat16).float()
        elif e["dtype"] == "F16":
            t = torch.from_numpy(buf.view(np.float16)).float()
        else:
            t = torch.from_numpy(buf.view(np.float32)).clone()
        out[name] = t.reshape(e["shape"])
    return out


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate(x, cos, sin):
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def forward(w, cfg, tok):
    T, H = len(tok), cfg["hidden_size"]
    nh, nkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    G, eps = nh // nkv, cfg["rms_norm_eps"]
    gd = D if cfg.get("elementwise_attn_output_gate") else 1 if cfg.get("headwise_attn_output_gate") else 0
    theta = cfg.get("rope_parameters", {}).get("rope_theta", cfg.get("rope_theta", 10000.0))
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = ang.cos(), ang.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    x = w["model.embed_tokens.weight"][torch.tensor(tok)]
    maps = []
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        xn = rmsnorm(x, w[p + "input_layernorm.weight"], eps)
        qg = (xn @ w[p + "self_attn.q_proj.weight"].T).view(T, nkv, -1)
        q = qg[:, :, : G * D].reshape(T, nh, D)
        gate = torch.sigmoid(qg[:, :, G * D:].reshape(T, nh, gd)) if gd else None
        k = (xn @ w[p + "self_attn.k_proj.weight"].T).view(T, nkv, D)
        v = (xn @ w[p + "self_attn.v_proj.weight"].T).view(T, nkv, D)
        q = rmsnorm(q, w[p + "self_attn.q_norm.weight"], eps)
        k = rmsnorm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = rotate(q, cos[:, None], sin[:, None]), rotate(k, cos[:, None], sin[:, None])
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        k, v = k.repeat_interleave(G, 0), v.repeat_interleave(G, 0)
        probs = torch.softmax(q @ k.transpose(1, 2) / D ** 0.5 + mask, -1)  # [nh, T, T], kept
        maps.append(probs)
        att = (probs @ v).transpose(0, 1)  # [T, nh, D]
        if gd:
            att = att * gate
        x = x + att.reshape(T, nh * D) @ w[p + "self_attn.o_proj.weight"].T
        xn = rmsnorm(x, w[p + "post_attention_layernorm.weight"], eps)
        h = torch.nn.functional.silu(xn @ w[p + "mlp.gate_proj.weight"].T) * (xn @ w[p + "mlp.up_proj.weight"].T)
        x = x + h @ w[p + "mlp.down_proj.weight"].T
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    logits = rmsnorm(x, w["model.norm.weight"], eps) @ head.T  # [T, vocab], as the HF model returns
    nll = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(tok[1:]))
    return maps, nll


def main():
    d, tokfile, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    t0 = time.monotonic()
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = load_safetensors(os.path.join(d, "model.safetensors"))
    t1 = time.monotonic()
    tok = [int(t) for t in open(tokfile).read().split(",")]
    with torch.no_grad():
        maps, nll = forward(w, cfg, tok)
        first = torch.stack([m[:, 1:, 0].mean(-1) for m in maps])  # [L, nh] share of key 0
    t2 = time.monotonic()
    print(f"peer_torch: load {t1 - t0:.2f} s, forward {t2 - t1:.2f} s, {len(tok)} tokens, "
          f"{len(maps)} layers of maps kept, mean first-token share {first.mean():.4f}, nll {nll:.4f}")


if __name__ == "__main__":
    main()
