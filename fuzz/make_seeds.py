#!/usr/bin/env python3
"""fuzz/make_seeds.py — writes the committed seed corpora under fuzz/corpus/ (small by design).
Run from the repository root: python3 fuzz/make_seeds.py [RUN.h5 ...]  (run files to copy as seeds)."""
import json, os, shutil, struct, sys

C = "fuzz/corpus"

def put(target, name, data):
    os.makedirs(f"{C}/{target}", exist_ok=True)
    with open(f"{C}/{target}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def st(header, data=b"", pad=True):
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data

# safetensors: valid files of each dtype and rank, metadata, unaligned, empty; and rule breakers
put("safetensors", "f32_2x3", st({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, bytes(range(24))))
put("safetensors", "mixed", st({"__metadata__": {"format": "pt"},
                                 "a": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]},
                                 "b": {"dtype": "F16", "shape": [1, 1], "data_offsets": [6, 8]},
                                 "c": {"dtype": "I32", "shape": [], "data_offsets": [8, 12]},
                                 "d": {"dtype": "U8", "shape": [0], "data_offsets": [12, 12]}}, bytes(range(12))))
put("safetensors", "unaligned", st({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\x00\x00\x80\x3f", pad=False))
put("safetensors", "empty", st({}))
put("safetensors", "overlap", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)))
put("safetensors", "short", struct.pack("<Q", 1000) + b'{"a":')
put("safetensors", "not_object", st([1, 2, 3]))
put("safetensors", "bf16_nan", st({"n": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\xc0\x7f\x80\x7f"))

# sharded index over the harness's shards a.safetensors {x, y} and b.safetensors {z}
idx = {"metadata": {"total_size": 16}, "weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}
put("safetensors_index", "valid", json.dumps(idx))
put("safetensors_index", "missing_shard", json.dumps({"weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "c.safetensors"}}))
put("safetensors_index", "wrong_shard", json.dumps({"weight_map": {"x": "b.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}))
put("safetensors_index", "traversal", json.dumps({"weight_map": {"x": "../a.safetensors"}}))
put("safetensors_index", "not_map", '{"weight_map": [1]}')

# configs: every reference fixture's config.json and a synth tiny config
for d in sorted(os.listdir("tests/fixtures")):
    p = f"tests/fixtures/{d}/config.json"
    if os.path.exists(p):
        put("config", f"{d}.json", open(p).read())
put("config", "minimal", json.dumps({"model_type": "llama", "num_hidden_layers": 1, "hidden_size": 8,
                                      "num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 10}))

# tokenizer.json documents: a small byte-level BPE in both merge spellings, with the Qwen2 Split regex
qwen_re = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
vocab = {c: i for i, c in enumerate(["H", "e", "l", "o", "Ġ", "w", "r", "d", "He", "ll", "Hell", "Hello", "!", "1", "2", "3"])}
def tok(merges, extra=None):
    t = {"version": "1.0", "truncation": None, "padding": None,
         "added_tokens": [{"id": 16, "content": "<|im_start|>", "single_word": False, "lstrip": False,
                           "rstrip": False, "normalized": False, "special": True}],
         "normalizer": {"type": "NFC"},
         "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
             {"type": "Split", "pattern": {"Regex": qwen_re}, "behavior": "Isolated", "invert": False},
             {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
         "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
         "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                   "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                   "vocab": vocab, "merges": merges}}
    if extra:
        extra(t)
    return json.dumps(t)
put("tokenizer_load", "pairs.json", tok([["H", "e"], ["l", "l"], ["He", "ll"], ["Hell", "o"]]))
put("tokenizer_load", "strings.json", tok(["H e", "l l", "He ll", "Hell o"]))
put("tokenizer_load", "bytelevel_only.json", tok([], lambda t: t.update(pre_tokenizer={"type": "ByteLevel", "add_prefix_space": True, "use_regex": True}, normalizer=None)))
put("tokenizer_load", "unknown_model.json", tok([], lambda t: t["model"].update(type="WordPiece")))
put("tokenizer_load", "unknown_merge.json", tok([["H", "zz"]]))
put("tokenizer_load", "no_vocab.json", tok([], lambda t: t["model"].pop("vocab")))

# text for the Qwen3 tokenizer: a slice of the conformance strings and invalid UTF-8
cases = [json.loads(l) for l in open("tests/fixtures/tokenizer/qwen3_cases.jsonl")]
for i, c in enumerate(cases[::8][:30]):
    put("tokenizer_encode", f"case{i:02d}", c["text"].encode("utf-8"))
put("tokenizer_encode", "bad_cont", b"abc\x80def")
put("tokenizer_encode", "overlong", b"\xc0\xaf x \xed\xa0\x80 \xf4\x90\x80\x80")
put("tokenizer_encode", "truncated", b"caf\xc3")
put("tokenizer_encode", "spaces", b"a" + b" " * 300 + b"\n\r\n\t b")

# run files given on the command line
for p in sys.argv[1:]:
    put("runfile", os.path.basename(p), open(p, "rb").read())
