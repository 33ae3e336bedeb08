#!/bin/sh
# make corpus: the demo models' training text, built reproducibly from Debian
# packages that ship English text (downloaded with apt-get download, never
# installed; unpacked with dpkg-deb -x), cleaned by train/make_corpus.py.
#
# Writes build/corpus/{train.txt, heldout.txt, train.txt.xz, stats.txt, SOURCES}
# and demo/heldout.txt (the committed held-out demo text).
# The versions below are the ones the committed demo models were trained on
# (Debian 12 "bookworm"); when the archive has moved on, the current version is
# taken and SOURCES says so.
set -e
cd "$(dirname "$0")/.."
OUT=build/corpus
PKGS="linux-doc-6.1=6.1.192-3 python3.11-doc=3.11.2-6+deb12u9 python-django-doc=3:3.2.25-0+deb12u7
postgresql-doc-15=15.20-0+deb12u1 git-doc=1:2.39.5-0+deb12u3 perl-doc=5.36.0-7+deb12u4
vim-runtime=2:9.0.1378-2+deb12u2 dict-gcide=0.48.5+nmu2 jargon-text=4.4.7-4.1 fortunes=1:1.99.1-7.3
debian-policy=4.6.2.0 developers-reference=12.18 debian-reference-en=2.100 gnu-standards=2022.03.23-0.1
rust-doc=1.63.0+dfsg1-2 debian-handbook=11.20220922 nodejs-doc=18.20.4+dfsg-1~deb12u3
apache2-doc=2.4.71-1~deb12u1"

mkdir -p "$OUT/debs"
updated=0
for pv in $PKGS; do
    p=${pv%%=*}
    if ls "$OUT/debs/${p}_"*.deb >/dev/null 2>&1; then continue; fi
    if ! (cd "$OUT/debs" && apt-get download -q "$pv" >/dev/null 2>&1); then
        if [ $updated = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; updated=1; fi
        if ! (cd "$OUT/debs" && apt-get download -q "$pv" >/dev/null 2>&1); then
            echo "make_corpus: $pv not in the archive; taking the current $p" >&2
            (cd "$OUT/debs" && apt-get download -q "$p" >/dev/null 2>&1) || { echo "make_corpus: cannot download $p" >&2; exit 1; }
        fi
    fi
done

rm -rf "$OUT/root"
mkdir -p "$OUT/root"
: > "$OUT/SOURCES"
for f in "$OUT"/debs/*.deb; do
    dpkg-deb -x "$f" "$OUT/root"
    echo "$(dpkg-deb -f "$f" Package) $(dpkg-deb -f "$f" Version) $(sha256sum "$f" | cut -c1-16)" >> "$OUT/SOURCES"
done

python3 train/make_corpus.py "$OUT/root" "$OUT" --demo-heldout demo/heldout.txt
rm -rf "$OUT/root"
# the training split travels to the GPU machine compressed
xz -6 -T2 -k -f "$OUT/train.txt"
ls -l "$OUT/train.txt.xz" demo/heldout.txt
