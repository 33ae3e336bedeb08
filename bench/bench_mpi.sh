#!/bin/sh
# bench/bench_mpi.sh — `make bench MPI=1`: a corpus run spread over 2 MPI ranks of 1 thread
# against 1 process of 2 threads (same machine, same windows), on a demo checkpoint and on
# synth gated-1b cut to 4 layers: windows/s, the cost of combining (bytes, seconds, as rank 0
# prints it) and the MPI bytes, then a projection to 8, 64 and 512 ranks from the measured
# per-window and combine costs (a model, not a measurement; docs/SCALING.md).
# --bind-to none: Open MPI binds each rank to one core when np <= 2, which would put
# the -t 2 threads of -np 1 on one core.
# BENCH_MPI_REPS=N alternates the two set-ups N times (default 1) and keeps each one's best.
set -eu
cd "$(dirname "$0")/.."
case "${BUILD:-}" in
*mpi*) ;;
*) echo "bench_mpi: skipped (make bench MPI=1 builds the MPI binary)"; exit 0 ;;
esac
command -v mpirun >/dev/null || { echo "bench_mpi: skipped: no mpirun (make deps MPI=1)"; exit 0; }
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
SS=./sinkscope
OUT=build/bench-mpi
REPS=${BENCH_MPI_REPS:-1}
mkdir -p "$OUT"
echo "bench_mpi: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other work shares the cores)"

now() { date +%s.%N; }
attr() { h5dump -a "/$2" "$1" | sed -n 's/^ *(0): *//p'; }

# one MODEL CTX WINDOWS NP THREADS: wall seconds of the job; rank 0's combine line kept in $OUT/log
one() {
    rm -rf "$OUT/run.h5" "$OUT/run.h5.partial"
    t0=$(now)
    mpirun --oversubscribe --bind-to none -np "$4" "$SS" run -m "$1" --corpus demo/heldout.txt -c "$2" --max-seqs "$3" -t "$5" \
        -o "$OUT/run.h5" >"$OUT/stdout" 2>"$OUT/log" || { cat "$OUT/log" >&2; exit 1; }
    echo "$(now) $t0" | awk '{printf "%.3f", $1 - $2}'
}

# case LABEL MODEL CTX WINDOWS
case_run() {
    best1=1e9; best2=1e9; r=0
    while [ $r -lt "$REPS" ]; do
        w=$(one "$2" "$3" "$4" 1 2); best1=$(echo "$w $best1" | awk '{print ($1 < $2) ? $1 : $2}')
        w=$(one "$2" "$3" "$4" 2 1); best2=$(echo "$w $best2" | awk '{print ($1 < $2) ? $1 : $2}')
        r=$((r + 1))
    done
    fwd=$(attr "$OUT/run.h5" time_forward_s)   # summed over the 2 ranks (last -np 2 run)
    load=$(attr "$OUT/run.h5" time_load_s)
    comb=$(sed -n 's/.*combined from \([0-9.]*\) MB of records in \([0-9.]*\) s.*/\1 \2/p' "$OUT/log")
    echo "$3 $4 $best1 $best2 $fwd $load $comb" | awk -v label="$1" '{
        W = $2; w1 = $3; w2 = $4; fwd = $5; load = $6; mb = $7; cs = $8
        printf "  %-22s -c %d, %d windows: -np 1 -t 2 %.2f s = %.3f windows/s | -np 2 -t 1 %.2f s = %.3f windows/s (x%.2f)\n",
               label, $1, W, w1, W / w1, w2, W / w2, w1 / w2
        printf "  %-22s combine: %.2f MB of records read by rank 0 in %.3f s (%.1f%% of the -np 2 wall);" \
               " MPI messages %d B (4 B per window of rank 1, 1052 B per rank but 0)\n",
               "", mb, cs, 100 * cs / w2, 4 * int(W / 2) + 1052
        # projection: T(N) = s0 + ceil(W/N) t_w + W c_w, one thread per rank, t_w and c_w as measured
        tw = fwd / W; cw = cs / W; s0 = w2 - (W / 2) * tw - cs; if (s0 < 0) s0 = 0
        printf "  %-22s model inputs: t_w %.3f s per window per 1-thread rank (forward), c_w %.4f s per window combined, s0 %.2f s start (load %.2f s)\n",
               "", tw, cw, s0, load
        J = 4096
        t1 = s0 + J * tw
        printf "  %-22s PROJECTION for %d windows:", "", J
        split("1 8 64 512", ns, " ")
        for (i = 1; i <= 4; i++) {
            n = ns[i]; per = int((J + n - 1) / n); t = s0 + per * tw + (n > 1 ? J * cw : 0)
            printf "  N=%d %.3g windows/s eff %.0f%%", n, J / t, 100 * t1 / (n * t)
        }
        printf "\n"
    }'
}

case_run "demo gated_headwise" demo/models/gated_headwise 512 "${BENCH_MPI_DEMO_WINDOWS:-8}"
if [ ! -f "$OUT/g1b/model.safetensors" ]; then
    rm -rf "$OUT/g1b"
    "$SS" synth -o "$OUT/g1b" --preset gated-1b --layers 4 >/dev/null
    cp demo/models/gated_headwise/tokenizer.json demo/models/gated_headwise/tokenizer_config.json "$OUT/g1b/"
fi
case_run "synth gated-1b 4 layers" "$OUT/g1b" 256 "${BENCH_MPI_SYNTH_WINDOWS:-4}"
rm -rf "$OUT/run.h5" "$OUT/log"
