#!/usr/bin/env python3
"""Check that the demo checkpoints mean the same thing to Hugging Face transformers
(Qwen3 with the paper's gate patched in, as tests/fixtures/gen_fixtures.py does,
and QK-norm removed per use_qk_norm: false) as to train/train.py's model: logits,
first-token attention and max |hidden| on held-out windows, float32 on the CPU.

    python3 train/check_hf.py demo/models/baseline demo/models/gated_headwise ...
"""
import json
import math
import os
import sys
import types

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "fixtures"))
sys.path.insert(0, here)


def main():
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModelForCausalLM
    import gen_fixtures as gf
    import train as tr
    torch.set_default_dtype(torch.float32)
    text = open(os.path.join(here, "..", "demo", "heldout.txt"), encoding="utf-8").read()
    bad = 0
    for d in sys.argv[1:]:
        conf = AutoConfig.from_pretrained(d)
        conf._attn_implementation = "eager"
        raw = json.load(open(os.path.join(d, "config.json")))
        gate = "headwise" if raw.get("headwise_attn_output_gate") else (
            "elementwise" if raw.get("elementwise_attn_output_gate") else None)
        model = AutoModelForCausalLM.from_config(conf, attn_implementation="eager").float().eval()
        rec = {}
        H, KV, D, hid = conf.num_attention_heads, conf.num_key_value_heads, conf.head_dim, conf.hidden_size
        for layer in model.model.layers:
            at = layer.self_attn
            if gate:
                q_out = H * D + (H if gate == "headwise" else H * D)
                at.q_proj = torch.nn.Linear(hid, q_out, bias=False)
                at.forward = types.MethodType(gf.make_gated_forward(gate, rec), at)
            if raw.get("use_qk_norm") is False:
                if not gate:   # stock forward calls q_norm/k_norm: make them identities
                    at.q_norm = torch.nn.Identity()
                    at.k_norm = torch.nn.Identity()
                else:
                    del at.q_norm, at.k_norm
        sd = {k: v.float() for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
        load = dict(sd)
        load["lm_head.weight"] = sd["model.embed_tokens.weight"]
        missing, unexpected = model.load_state_dict(load, strict=False)
        print(d, "gate", gate, "missing", missing, "unexpected", unexpected, flush=True)
        tk = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        ids = tk.encode(text[:20000], add_special_tokens=False).ids
        T = 128
        toks = torch.tensor([[0] + ids[i * (T - 1):(i + 1) * (T - 1)] for i in range(4)])
        with torch.no_grad():
            out = model(input_ids=toks, output_attentions=True, use_cache=False)
        # train.py's model on the same weights
        cfg = dict(vocab=conf.vocab_size, hidden=hid, heads=H, kv=KV, head_dim=D, ffn=conf.intermediate_size,
                   layers=conf.num_hidden_layers, ctx=T, eps=conf.rms_norm_eps, theta=10000.0, seed=0)
        m = tr.build(torch, cfg, gate or "none")
        m.load_state_dict(sd, strict=True)
        cos, sin = tr.rope_tables(torch, cfg, T, "cpu")
        blk = tr.make_block(torch, cfg, m.gw)
        with torch.no_grad():
            lg = tr.forward(torch, m, toks, cos, sin, blk)
        dl = float((lg - out.logits).abs().max())
        ft = sum(float(a[:, :, 1:, 0].mean()) for a in out.attentions) / len(out.attentions) \
            if out.attentions and out.attentions[0] is not None else float("nan")
        print("%s: max |logits(transformers) - logits(train.py)| = %.3g (|logits| max %.3g); "
              "transformers F-Attn on 4 x %d tokens %.3f" % (d, dl, float(out.logits.abs().max()), T, ft),
              flush=True)
        bad += dl > 1e-3 or bool(missing and missing != ["lm_head.weight"]) or bool(unexpected)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
