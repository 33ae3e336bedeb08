#!/bin/sh
# One gpt-oss-20b expert over the 64 tokens a 512-token window routes to it on average:
# MXFP4 / BF16 / F32 weights against OpenBLAS sgemm alone (bench/moe.c).
set -e
"${BUILD:-build/rel}/bench/moe" 64 2 5
