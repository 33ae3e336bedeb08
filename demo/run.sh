#!/bin/sh
# make demo: the three demo checkpoints (demo/models, trained by train/train.py)
# run over the held-out demo text, compared in a table, every plot kind drawn.
# Usage: sh demo/run.sh            (after `make sinkscope`; SINKSCOPE=path overrides ./sinkscope,
#                                   DEMO_SEQS=N the number of 512-token windows, default 16)
set -u
cd "$(dirname "$0")/.."
SS=${SINKSCOPE:-./sinkscope}
case $SS in */*) ;; *) SS=./$SS ;; esac
N=${DEMO_SEQS:-16}
OUT=demo/out
MODELS="baseline gated_headwise gated_elementwise"
# Statistics come from N windows of 512 tokens; the attention maps are drawn from
# separate short windows (64 tokens, 4 of them, every layer dumped), where the
# first-token column is visible at figure size. Map layers: index 5, the
# baseline's strongest first-token layer, between the first and the last two.
MAP_CTX=64
MAP_LAYERS=0,5,8,11

if [ ! -x "$SS" ]; then echo "demo/run.sh: $SS not built (make sinkscope)" >&2; exit 2; fi
mkdir -p "$OUT"
start=$(date +%s)

for m in $MODELS; do
    echo "== run $m ($N windows of 512 tokens, BOS from tokenizer_config.json)"
    "$SS" run -m "demo/models/$m" --corpus demo/heldout.txt -c 512 --max-seqs "$N" \
        -o "$OUT/$m.h5" --force --quiet \
        || { echo "demo/run.sh: run of $m failed" >&2; exit 1; }
    "$SS" run -m "demo/models/$m" --corpus demo/heldout.txt -c "$MAP_CTX" --max-seqs 4 \
        -o "$OUT/${m}_maps.h5" --force --quiet --dump attention \
        || { echo "demo/run.sh: map run of $m failed" >&2; exit 1; }
done

B="$OUT/baseline.h5"
H="$OUT/gated_headwise.h5"
E="$OUT/gated_elementwise.h5"
echo
echo "== compare"
"$SS" compare "$B" "$H" "$E" --labels baseline,headwise,elementwise || exit 1
"$SS" compare "$B" "$H" "$E" --labels baseline,headwise,elementwise --format markdown > "$OUT/compare.md" || exit 1

fail=0
plot() {   # plot KIND NAME [args...]: NAME.png and NAME.pdf (demo/out is the demo's own: --force)
    kind=$1 name=$2
    shift 2
    for ext in png pdf; do
        if ! "$SS" plot "$kind" "$@" --force -o "$OUT/$name.$ext"; then
            echo "demo/run.sh: plot $kind -> $OUT/$name.$ext failed" >&2
            fail=1
        fi
    done
}
echo
echo "== plots -> $OUT/"
plot first-token    first-token    "$B" "$H" "$E" --labels baseline,headwise,elementwise
plot attention-map  attention-map  "$OUT/baseline_maps.h5" "$OUT/gated_elementwise_maps.h5" \
                                   --labels baseline,elementwise --layers "$MAP_LAYERS"
plot head-grid      head-grid      "$OUT/baseline_maps.h5" "$OUT/gated_elementwise_maps.h5" \
                                   --labels baseline,elementwise --layers 5
plot gate-hist      gate-hist      "$H" "$E" --labels headwise,elementwise
plot sdpa-magnitude sdpa-magnitude "$B" "$H" "$E" --labels baseline,headwise,elementwise
plot sdpa-sparsity  sdpa-sparsity  "$B" "$H" "$E" --labels baseline,headwise,elementwise
plot activations    activations    "$B" "$H" "$E" --labels baseline,headwise,elementwise
plot gate-layers    gate-layers    "$H" "$E" --labels headwise,elementwise
plot massive        massive        "$B" "$E" --labels baseline,elementwise
# the booklet of the 512-token runs (they hold no maps: the map pages are left out)
if ! "$SS" plot paper "$B" "$E" --labels baseline,elementwise --force -o "$OUT/paper.pdf"; then
    echo "demo/run.sh: plot paper failed" >&2
    fail=1
fi
echo
echo "== report -> $OUT/report.html (tables, figures, attention explorer in one page)"
if ! "$SS" report "$OUT/baseline_maps.h5" "$OUT/gated_headwise_maps.h5" "$OUT/gated_elementwise_maps.h5" \
        --labels baseline,headwise,elementwise --max-first-token-share 0.2 --max-sink-rate 0.1 \
        --force -o "$OUT/report.html"; then
    echo "demo/run.sh: report failed" >&2
    fail=1
fi

echo
echo "demo/run.sh: $(ls "$OUT" | grep -c -E '\.(png|pdf)$') figures in $OUT/, $(($(date +%s) - start)) s"
exit $fail
