#!/bin/sh
# bench/bench_probes.sh — cost of the probes (issue 4, "Speed"):
#  1. gated-1b (synth), 512 tokens, 2 threads: forward with statistics vs with no probes
#     (hidden --no-stats), and with --dump attention for all layers; ratios of time_forward_s.
#  2. qwen3-0.6b with 2 layers (synth), one 32768-token window in statistics mode: peak RSS.
# Models are generated once into build/bench-models/ (shared with the forward-pass benchmark).
set -e
cd "$(dirname "$0")/.."
BIN=${SINKSCOPE:-./sinkscope} # SINKSCOPE=path picks another build
[ -x "$BIN" ] || BIN=${BUILD:-build/rel}/sinkscope
MODELS=build/bench-models
mkdir -p "$MODELS"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PY=/usr/bin/python3

ids() { # $1 tokens: deterministic ids below 150000
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 150000 }'
}
attr() { # $1 file, $2 root attribute
    $PY -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs[sys.argv[2]])" "$1" "$2"
}

G1B=$MODELS/gated-1b
[ -f "$G1B/config.json" ] || $BIN synth -o "$G1B" --preset gated-1b
IDS=$(ids 512)
$BIN run -m "$G1B" --token-ids "$IDS" -t 2 --quiet --no-stats -o "$OUT/none.h5"
$BIN run -m "$G1B" --token-ids "$IDS" -t 2 --quiet -o "$OUT/stats.h5"
$BIN run -m "$G1B" --token-ids "$IDS" -t 2 --quiet --dump attention -o "$OUT/dump.h5"
t0=$(attr "$OUT/none.h5" time_forward_s)
t1=$(attr "$OUT/stats.h5" time_forward_s)
t2=$(attr "$OUT/dump.h5" time_forward_s)
p1=$(attr "$OUT/stats.h5" time_probes_s)
p2=$(attr "$OUT/dump.h5" time_probes_s)
size=$(du -m "$OUT/dump.h5" | cut -f1)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v p="$p1" -v q="$p2" -v s="$size" 'BEGIN {
    printf "gated-1b, 512 tokens, -t 2: forward without probes %.2f s, with statistics %.2f s (overhead %+.1f %%, target <= 10 %%);\n", a, b, (b / a - 1) * 100
    printf "  time inside the statistics callbacks %.2f s = %.1f %% of the rest of that forward\n", p, p / (b - p) * 100
    printf "gated-1b, 512 tokens, -t 2: statistics + --dump attention (all layers) %.2f s = %.2f x the forward (target <= 2x), callbacks %.2f s, file %d MiB\n", c, c / a, q, s
}'
rm -f "$OUT"/*.h5

Q06=$MODELS/qwen3-0.6b-2l
[ -f "$Q06/config.json" ] || $BIN synth -o "$Q06" --preset qwen3-0.6b --layers 2
ids 32768 > "$OUT/ids.txt" # too long for one command-line argument
/usr/bin/time -f "%M %e" -o "$OUT/time.txt" $BIN run -m "$Q06" --token-ids "@$OUT/ids.txt" -t 2 --quiet -o "$OUT/long.h5"
read rss wall < "$OUT/time.txt"
tf=$(attr "$OUT/long.h5" time_forward_s)
awk -v r="$rss" -v w="$wall" -v f="$tf" 'BEGIN {
    printf "qwen3-0.6b (2 layers), one 32768-token window, statistics: peak RSS %.0f MiB, forward %.1f s, wall %.1f s\n", r / 1024, f, w
}'
