#!/bin/sh
# Forward pass on `synth --preset gated-1b` (bf16, written to build/bench-models/ on first use),
# 512 tokens, 2 threads: load time, tokens/s, time per stage, projections' GFLOP/s vs sgemm on
# the same shapes, peak RSS vs the checkpoint's bytes + 0.6 GB (issue 13). First the 4-layer
# elementwise model of bench_peer.sh (load target 0.3 s), then the full 28 layers (1 s).
set -e
BUILD=${BUILD:-build/rel}
mkdir -p build/bench-models
M4=build/bench-models/gated-1b-e4
[ -f "$M4/config.json" ] || "${SINKSCOPE:-./sinkscope}" synth -o "$M4" --preset gated-1b --gate elementwise \
    --layers 4 --dtype bf16 >/dev/null
"$BUILD/bench/forward" "$M4" 512 2
"$BUILD/bench/forward" build/bench-models/gated-1b 512 2
