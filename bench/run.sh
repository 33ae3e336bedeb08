#!/bin/sh
# make bench: runs every bench/bench_*.sh in order; each prints its own figures.
set -e
cd "$(dirname "$0")/.."
for b in bench/bench_*.sh; do
    [ -e "$b" ] || continue
    echo "== $b"
    sh "$b"
done
