#!/bin/sh
# Forward pass on `synth --preset gated-1b` (bf16, written to build/bench-models/ on first use):
# 512 tokens, 2 threads; tokens/s, GFLOP/s vs sgemm on the same shapes, peak RSS.
set -e
BUILD=${BUILD:-build/rel}
mkdir -p build/bench-models
"$BUILD/bench/forward" build/bench-models/gated-1b 512 2
