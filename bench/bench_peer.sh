#!/bin/sh
# bench/bench_peer.sh — issue 13: sinkscope against the PyTorch-eager peer (bench/peer_torch.py)
# and against a previous build, on gated-1b (elementwise gate, 4 layers, bf16; synth), 512 tokens,
# 2 threads, statistics mode. Whole process (wall, load included) and time_forward_s, runs
# alternating, best of ROUNDS (default 2), ratios from the same run.
#   SINKSCOPE=path   the build under test (default ./sinkscope)
#   BASE=path        a previous build's binary to compare with (optional; e.g. `git archive` of the
#                    base commit built under /tmp)
# The peer needs Debian's python3-torch (`make bench-deps`); without it that part is skipped.
set -e
cd "$(dirname "$0")/.."
BIN=${SINKSCOPE:-./sinkscope}
[ -x "$BIN" ] || BIN=${BUILD:-build/rel}/sinkscope
PY=/usr/bin/python3
ROUNDS=${ROUNDS:-2}
MODELS=build/bench-models
mkdir -p "$MODELS"
M=$MODELS/gated-1b-e4
[ -f "$M/config.json" ] || $BIN synth -o "$M" --preset gated-1b --gate elementwise --layers 4 --dtype bf16 >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
awk 'BEGIN { for (i = 0; i < 512; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 150000 }' > "$OUT/ids"
now() { date +%s.%N; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
attr() { $PY -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs[sys.argv[2]])" "$1" "$2"; }
run_ss() { # $1 binary -> "wall forward load"
    rm -f "$OUT/r.h5"
    t0=$(now)
    "$1" run -m "$M" --token-ids @"$OUT/ids" -t 2 --quiet -o "$OUT/r.h5"
    t1=$(now)
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(attr "$OUT/r.h5" time_forward_s) $(attr "$OUT/r.h5" time_load_s)"
}
have_peer=1
$PY -c "import torch" 2>/dev/null || { have_peer=0; echo "peer: skipped (python3-torch is not installed; make bench-deps)"; }
W=; F=; L=; BW=; BF=; BL=; PW=; PF=
for r in $(seq "$ROUNDS"); do
    set -- $(run_ss "$BIN"); W=$(best "$1" "$W"); F=$(best "$2" "$F"); L=$(best "$3" "$L")
    if [ -n "$BASE" ]; then
        set -- $(run_ss "$BASE"); BW=$(best "$1" "$BW"); BF=$(best "$2" "$BF"); BL=$(best "$3" "$BL")
    fi
    if [ $have_peer = 1 ]; then
        t0=$(now)
        line=$($PY bench/peer_torch.py "$M" "$OUT/ids" 2)
        t1=$(now)
        PW=$(best "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$PW")
        PF=$(best "$(echo "$line" | sed 's/.*forward \([0-9.]*\) s.*/\1/')" "$PF")
    fi
done
echo "gated-1b elementwise, 4 layers, bf16, 512 tokens, 2 threads, statistics mode (best of $ROUNDS):"
printf '  sinkscope      whole process %6.2f s, forward %6.2f s, load %.3f s\n' "$W" "$F" "$L"
[ -n "$BASE" ] && printf '  previous build whole process %6.2f s, forward %6.2f s, load %.3f s\n' "$BW" "$BF" "$BL" &&
    awk -v w="$W" -v f="$F" -v bw="$BW" -v bf="$BF" -v l="$L" -v bl="$BL" 'BEGIN {
        printf "  vs previous build: whole process %.2fx, forward %.2fx, load %.0fx faster\n", bw / w, bf / f, bl / l }'
[ $have_peer = 1 ] && printf '  pytorch eager  whole process %6.2f s, forward %6.2f s (every attention map kept)\n' "$PW" "$PF" &&
    awk -v w="$W" -v f="$F" -v pw="$PW" -v pf="$PF" 'BEGIN {
        printf "  vs pytorch eager: whole process %.2fx (target >= 3x), forward %.2fx\n", pw / w, pf / f }'
exit 0
