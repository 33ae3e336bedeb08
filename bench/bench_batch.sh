#!/bin/sh
# bench/bench_batch.sh — issue 13, corpus batching: a corpus run of WINDOWS windows of CTX tokens
# on synth gated-1b (elementwise gate, bf16) with LAYERS layers, 2 threads, statistics mode:
# --batch 1 against --batch BATCH (default: all the windows, at most 8) and against a previous
# build (BASE=path to its binary, optional), after one untimed warm-up run, runs alternating,
# best of ROUNDS. Tokens/s of the forward (time_forward_s) and of the whole process, peak RSS
# (/usr/bin/time), and whether /stats and /summary are identical (h5diff) between them.
# Then bench/batch (layers only, in one process) at CTX and at CTX/4 positions per window.
#   LAYERS (default 4), WINDOWS (default 16), CTX (default 512), BATCH, ROUNDS (default 1),
#   SINKSCOPE, BASE
set -e
cd "$(dirname "$0")/.."
BIN=${SINKSCOPE:-./sinkscope}
[ -x "$BIN" ] || BIN=${BUILD:-build/rel}/sinkscope
LAYERS=${LAYERS:-4}
WINDOWS=${WINDOWS:-16}
ROUNDS=${ROUNDS:-1}
CTX=${CTX:-512}
BATCH=${BATCH:-$((WINDOWS < 8 ? WINDOWS : 8))}
M=${BENCH_BATCH_MODEL:-build/bench-models/gated-1b-e$LAYERS}
if [ ! -f "$M/model.safetensors" ]; then
    mkdir -p "$(dirname "$M")"
    $BIN synth -o "$M" --preset gated-1b --gate elementwise --layers "$LAYERS" --dtype bf16 >/dev/null
    cp demo/models/gated_headwise/tokenizer.json demo/models/gated_headwise/tokenizer_config.json "$M/"
fi
[ -x /usr/bin/time ] || { echo "bench_batch: skipped (needs /usr/bin/time for peak RSS)"; exit 0; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
attr() { h5dump -a "/$2" "$1" | sed -n 's/^ *(0): *//p'; }
now() { date +%s.%N; }
# one LABEL BINARY ARGS...: prints "LABEL forward_s wall_s rss_mb"; the file kept as $OUT/LABEL.h5
one() {
    label=$1 bin=$2
    shift 2
    rm -f "$OUT/$label.h5"
    t0=$(now)
    /usr/bin/time -f %M -o "$OUT/rss" "$bin" run -m "$M" --corpus demo/heldout.txt -c "$CTX" --max-seqs "$WINDOWS" -t 2 \
        --quiet -o "$OUT/$label.h5" "$@"
    t1=$(now)
    echo "$label $(attr "$OUT/$label.h5" time_forward_s) $(echo "$t0 $t1" | awk '{print $2 - $1}') $(($(cat "$OUT/rss") / 1024))"
}
auto=$($BIN info -m "$M" -c "$CTX" | sed -n 's/.* x \([0-9]*\) window(s) per pass.*/\1/p')
echo "bench_batch: gated-1b elementwise bf16, $LAYERS layers, $WINDOWS windows of $CTX tokens, 2 threads, statistics;" \
    "--batch $BATCH (the automatic batch here: $auto); load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
: > "$OUT/all"
one warmup "$BIN" --max-seqs 1 > /dev/null # the first run of a series pays for mapping the file
for r in $(seq "$ROUNDS"); do
    one batch1 "$BIN" --batch 1 >> "$OUT/all"
    one batchN "$BIN" --batch "$BATCH" >> "$OUT/all"
    [ -n "$BASE" ] && one base "$BASE" >> "$OUT/all"
done
T=$((WINDOWS * CTX))
awk -v T="$T" '
    { if (!($1 in f) || $2 < f[$1]) f[$1] = $2; if (!($1 in w) || $3 < w[$1]) w[$1] = $3; if ($4 > m[$1]) m[$1] = $4 }
    END {
        n = split("batch1 batchN base", k, " ")
        for (i = 1; i <= n; i++) if (k[i] in f)
            printf "  %-7s forward %7.1f s = %6.2f tokens/s | whole process %7.1f s = %6.2f tokens/s | peak RSS %d MB\n",
                   k[i], f[k[i]], T / f[k[i]], w[k[i]], T / w[k[i]], m[k[i]]
        printf "  batchN = --batch '"$BATCH"' vs --batch 1: forward %.3fx, whole process %.3fx\n", f["batch1"] / f["batchN"], w["batch1"] / w["batchN"]
        if ("base" in f)
            printf "  --batch 1 vs previous build: forward %.3fx; --batch '"$BATCH"' vs previous build: forward %.3fx, whole process %.3fx\n", f["base"] / f["batch1"], f["base"] / f["batchN"], w["base"] / w["batchN"]
    }' "$OUT/all"
for other in batchN base; do
    [ -f "$OUT/$other.h5" ] || continue
    for g in /stats /summary; do
        if h5diff -q "$OUT/batch1.h5" "$OUT/$other.h5" "$g" "$g" >/dev/null 2>&1; then d=identical; else d=DIFFERENT; fi
        echo "  h5diff $g batch1 vs $other: $d"
    done
done
B=${BUILD:-build/rel}/bench/batch
if [ -x "$B" ]; then
    "$B" "$M" "$CTX" "$BATCH" 2 2
    "$B" "$M" $((CTX / 4)) 8 2 2
else
    echo "bench_batch: $B not built (make $B) — layers-only figures skipped"
fi
exit 0
