#!/bin/sh
# make experiments: the first causal study on the three demo checkpoints
# (docs/EXPERIMENTS.md), on the CPU: length extrapolation with the trained RoPE
# and with YaRN, streaming windows with and without sink tokens, removing key 0,
# massive-activation ablation, gate replacement. Run files in demo/out/exp/,
# tables in demo/out/exp/tables.md, figures in demo/out/exp/*.png.
# Usage: sh demo/experiments.sh  (after `make sinkscope`; SINKSCOPE=path overrides
#        ./sinkscope; EXP_SCALE=k divides every window count by k for a quick look)
set -u
cd "$(dirname "$0")/.."
SS=${SINKSCOPE:-./sinkscope}
case $SS in */*) ;; *) SS=./$SS ;; esac
K=${EXP_SCALE:-1}
OUT=demo/out/exp
MODELS="baseline gated_headwise gated_elementwise"
TEXT=demo/heldout.txt
if [ ! -x "$SS" ]; then echo "demo/experiments.sh: $SS not built (make sinkscope)" >&2; exit 2; fi
mkdir -p "$OUT"
start=$(date +%s)
n() { echo $(( $1 / K > 0 ? $1 / K : 1 )); }
run() { # run NAME MODEL ARGS...: one run file (or one per context with -c A,B)
    name=$1; m=$2; shift 2
    echo "== $name: sinkscope run -m demo/models/$m --corpus $TEXT $*"
    "$SS" run -m "demo/models/$m" --corpus "$TEXT" -o "$OUT/$name.h5" --force --quiet "$@" \
        || { echo "demo/experiments.sh: run $name failed" >&2; exit 1; }
}

# 1. Length: 8192 tokens per point (16 windows of 512, 8 of 1024, 4 of 2048, 2 of 4096),
#    trained RoPE and YaRN with factor = context / 512 (yarn:auto). A sweep is one command
#    per window count because the count changes with the context.
for m in $MODELS; do
    for c in "512 16" "1024 8" "2048 4" "4096 2"; do
        set -- $c
        run "len_${m}-c$1" "$m" -c "$1" --max-seqs "$(n "$2")"
        run "yarn_${m}-c$1" "$m" -c "$1" --max-seqs "$(n "$2")" --rope-scaling yarn:auto
    done
done
# 2. Streaming at 2048: window 256 without and with 4 sink tokens (4 windows each).
for m in $MODELS; do
    run "stream_${m}_w256_s0" "$m" -c 2048 --max-seqs "$(n 4)" --window 256
    run "stream_${m}_w256_s4" "$m" -c 2048 --max-seqs "$(n 4)" --window 256 --sink-tokens 4
done
# 3. Sink removal at 512: key 0 masked for every query q >= 1 (16 windows).
for m in $MODELS; do
    run "mask0_${m}" "$m" -c 512 --max-seqs "$(n 16)" --mask-keys 0
done
# 4. Massive activations (Sun et al.): zero vs mean at the first layer that has them (16 windows).
for m in $MODELS; do
    run "ablate_zero_${m}" "$m" -c 512 --max-seqs "$(n 16)" --ablate massive=zero
    run "ablate_mean_${m}" "$m" -c 512 --max-seqs "$(n 16)" --ablate massive=mean
done
# 5. Gates: off and each layer's mean gate, gated models (16 windows).
for m in gated_headwise gated_elementwise; do
    run "gate_off_${m}" "$m" -c 512 --max-seqs "$(n 16)" --gate off
    run "gate_mean_${m}" "$m" -c 512 --max-seqs "$(n 16)" --gate constant=mean
done

# figures (1 and 2); a series of the context sweep = the files whose labels differ by -cN only
sweep_files=""
sweep_labels=""
for pre in len yarn; do
    for m in $MODELS; do
        for c in 512 1024 2048 4096; do
            sweep_files="$sweep_files $OUT/${pre}_$m-c$c.h5"
            lab=$(echo "$m" | sed 's/gated_//'); [ $pre = yarn ] && lab="$lab YaRN"
            sweep_labels="$sweep_labels,$lab-c$c"
        done
    done
done
"$SS" plot context-sweep $sweep_files --labels "${sweep_labels#,}" --force -o "$OUT/context-sweep.png" || exit 1
"$SS" plot loss-position "$OUT"/len_baseline-c4096.h5 "$OUT"/yarn_baseline-c4096.h5 \
    "$OUT"/len_gated_elementwise-c4096.h5 "$OUT"/yarn_gated_elementwise-c4096.h5 \
    --labels "baseline,baseline YaRN x8,elementwise,elementwise YaRN x8" --force -o "$OUT/loss-position.png" || exit 1
"$SS" plot loss-position "$OUT"/len_baseline-c2048.h5 "$OUT"/stream_baseline_w256_s0.h5 \
    "$OUT"/stream_baseline_w256_s4.h5 "$OUT"/len_gated_elementwise-c2048.h5 \
    "$OUT"/stream_gated_elementwise_w256_s0.h5 "$OUT"/stream_gated_elementwise_w256_s4.h5 \
    --labels "baseline full,baseline w256,baseline w256+4 sinks,elementwise full,elementwise w256,elementwise w256+4 sinks" \
    --force -o "$OUT/streaming.png" || exit 1

# tables: every run's summary as JSON, then demo/experiments_tables.py
for f in "$OUT"/*.h5; do
    "$SS" summary "$f" --format json > "${f%.h5}.json" || exit 1
done
python3 demo/experiments_tables.py "$OUT" > "$OUT/tables.md" || exit 1
cat "$OUT/tables.md"
echo
echo "demo/experiments.sh: done in $(( $(date +%s) - start )) s; tables in $OUT/tables.md, figures in $OUT/*.png"
