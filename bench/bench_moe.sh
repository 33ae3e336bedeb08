#!/bin/sh
# bench/bench_moe.sh — mixture of experts (issue 17).
# 1. One gpt-oss-20b expert over the 64 tokens a 512-token window routes to it on average:
#    MXFP4 / BF16 / F32 weights against OpenBLAS sgemm alone (bench/moe.c).
# 2. Opt-in (BENCH_GPTOSS=1): `synth --preset gpt-oss-20b` (MXFP4 experts, bf16 rest: 13.8 GB
#    written under ${TMPDIR:-/tmp} and deleted afterwards) runs one 512-token window in statistics
#    mode: peak RSS and tokens/s. GPTOSS_LAYERS=N keeps N of the 24 layers (a machine without
#    15 GB of memory to spare); the figure then says so.
set -e
cd "$(dirname "$0")/.."
"${BUILD:-build/rel}/bench/moe" 64 2 5
[ "${BENCH_GPTOSS:-0}" = 1 ] || { echo "gpt-oss-20b: skipped (BENCH_GPTOSS=1 runs it; needs 14 GB of disk and 15 GB of memory)"; exit 0; }
BIN=${SINKSCOPE:-./sinkscope}
[ -x "$BIN" ] || BIN=${BUILD:-build/rel}/sinkscope
D=$(mktemp -d "${TMPDIR:-/tmp}/sinkscope-gptoss.XXXXXX")
trap 'rm -rf "$D"' EXIT
L=${GPTOSS_LAYERS:-24}
t0=$(date +%s.%N)
"$BIN" synth -o "$D/m" --preset gpt-oss-20b --dtype bf16 --layers "$L" >/dev/null
t1=$(date +%s.%N)
awk 'BEGIN { for (i = 0; i < 512; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 200000 }' > "$D/ids"
"$BIN" info -m "$D/m" -c 512 | grep -E "^(parameters|memory|machine)"
/usr/bin/time -f "%e %M" -o "$D/time" "$BIN" run -m "$D/m" --token-ids @"$D/ids" -t 2 --quiet -o "$D/r.h5"
read -r wall kb < "$D/time"
fwd=$(/usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['time_forward_s'])" "$D/r.h5")
awk -v s="$(du -sm "$D/m" | cut -f1)" -v w="$wall" -v kb="$kb" -v f="$fwd" -v ts="$t0" -v te="$t1" -v l="$L" 'BEGIN {
    printf "gpt-oss-20b (synth, %d of 24 layers, %d MB: MXFP4 experts, bf16 rest, written in %.0f s), 512 tokens, 2 threads, statistics mode:\n", l, s, te - ts
    printf "  whole process %.1f s, forward %.1f s = %.2f tokens/s, peak RSS %.2f GB\n", w, f, 512 / f, kb / 1048576 }'
