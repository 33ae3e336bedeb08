#!/bin/sh
# bench/bench_8b.sh — issue 13's memory promise: `synth --preset llama-3.1-8b` (16 GB of bf16)
# runs one 512-token window in statistics mode within 20 GB RSS, with tokens/s. Opt-in
# (BENCH_8B=1): it writes 16 GB under ${TMPDIR:-/tmp} and deletes them afterwards.
set -e
cd "$(dirname "$0")/.."
[ "${BENCH_8B:-0}" = 1 ] || { echo "8B: skipped (BENCH_8B=1 runs it; needs 17 GB of disk and 20 GB of memory)"; exit 0; }
BIN=${SINKSCOPE:-./sinkscope}
[ -x "$BIN" ] || BIN=${BUILD:-build/rel}/sinkscope
D=$(mktemp -d "${TMPDIR:-/tmp}/sinkscope-8b.XXXXXX")
trap 'rm -rf "$D"' EXIT
t0=$(date +%s.%N)
"$BIN" synth -o "$D/m" --preset llama-3.1-8b --dtype bf16 >/dev/null
t1=$(date +%s.%N)
awk 'BEGIN { for (i = 0; i < 512; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 128000 }' > "$D/ids"
"$BIN" info -m "$D/m" -c 512 | grep -E "^(memory|machine)"
/usr/bin/time -f "%e %M" -o "$D/time" "$BIN" run -m "$D/m" --token-ids @"$D/ids" -t 2 --quiet -o "$D/r.h5"
read -r wall kb < "$D/time"
fwd=$(/usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['time_forward_s'])" "$D/r.h5")
awk -v s="$(du -sm "$D/m" | cut -f1)" -v w="$wall" -v kb="$kb" -v f="$fwd" -v ts="$t0" -v te="$t1" 'BEGIN {
    printf "llama-3.1-8b (synth, %d MB of bf16, written in %.0f s), 512 tokens, 2 threads, statistics mode:\n", s, te - ts
    printf "  whole process %.1f s, forward %.1f s = %.2f tokens/s, peak RSS %.2f GB (target <= 20 GB): %s\n",
           w, f, 512 / f, kb / 1048576, kb / 1048576 <= 20 ? "ok" : "OVER" }'
