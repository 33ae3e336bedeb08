#!/bin/sh
# bench/bench_analyze.sh — `summary` of a ~1 GiB run file (attention dumps uncompressed)
# must not read the dumps: issue 5 asks for under 2 s. The file is made once by
# bench/analyze.c (the test runmaker) in build/bench-analyze/ and kept for reruns.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
# make bench builds ./sinkscope; a private build (BUILD=build/me) brings its own binary
BIN=./sinkscope
[ -x "$BUILD/sinkscope" ] && BIN=$BUILD/sinkscope
DIR=build/bench-analyze
mkdir -p "$DIR"
F=$DIR/big.h5
"$BUILD/bench/analyze" "$F"
for args in "" "--per-layer --per-head" "--per-layer --format json"; do
    s=$(date +%s.%N)
    $BIN summary "$F" $args > /dev/null
    e=$(date +%s.%N)
    echo "sinkscope summary${args:+ $args}: $(echo "$e - $s" | bc) s (whole process)"
done
s=$(date +%s.%N)
$BIN audit "$F" --max-first-token-share 1 > /dev/null
e=$(date +%s.%N)
echo "sinkscope audit: $(echo "$e - $s" | bc) s"
