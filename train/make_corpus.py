#!/usr/bin/env python3
"""Plain English text from the Debian packages unpacked by train/make_corpus.sh.

    python3 train/make_corpus.py ROOT OUTDIR [--demo-heldout demo/heldout.txt]

ROOT is the directory the .debs were extracted into (dpkg-deb -x). Writes
OUTDIR/train.txt and OUTDIR/heldout.txt (documents separated by a blank line),
OUTDIR/stats.txt, and, with --demo-heldout, the first ~256 KB of held-out
documents (whole documents) to that file.

Deterministic: documents are cleaned, split into pieces of at most ~16 KB at
paragraph boundaries, de-duplicated, ordered by the SHA-256 of their text (a
fixed shuffle) and sent to the held-out split when that hash is 0 mod 100 (1 %).
Python standard library only.
"""
import glob
import gzip
import hashlib
import html.parser
import os
import re
import sys

PIECE = 16384          # split documents longer than this at blank lines
DEMO_HELDOUT = 262144  # bytes of held-out text for demo/heldout.txt


def read(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


def tidy(t):
    """Strip trailing spaces, drop form feeds and control characters, collapse blank runs."""
    t = t.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    t = re.sub(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]", "", t)
    t = "\n".join(line.rstrip() for line in t.split("\n"))
    t = re.sub(r"\n{3,}", "\n\n", t)
    return t.strip("\n")


# ---- reStructuredText -------------------------------------------------------
RST_UNDERLINE = re.compile(r"^\s*([=\-~^\"'`#*+<>_.:])\1{3,}\s*$")
RST_DIRECTIVE = re.compile(r"^\s*\.\.(\s|$)")
RST_OPTION = re.compile(r"^\s+:[\w-]+:(\s|$)")


def clean_rst(t):
    out = []
    for line in t.split("\n"):
        if RST_UNDERLINE.match(line) or RST_DIRECTIVE.match(line) or RST_OPTION.match(line):
            continue
        if "SPDX-License-Identifier" in line:
            continue
        out.append(line)
    t = "\n".join(out)
    t = re.sub(r":[\w:.+-]+:`~?([^`<]*?)\s*(<[^>`]*>)?`", r"\1", t)  # :role:`text <target>`
    t = re.sub(r"``([^`]+)``", r"\1", t)
    t = re.sub(r"`([^`<]+?)\s*<[^>`]+>`_{1,2}", r"\1", t)
    t = re.sub(r"`([^`]+)`_{0,2}", r"\1", t)
    t = re.sub(r"\*\*([^*\n]+)\*\*", r"\1", t)
    t = re.sub(r"\|([\w-]+)\|", r"\1", t)
    t = t.replace("::\n", ":\n")
    return tidy(t)


# ---- HTML --------------------------------------------------------------------
VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "pre",
         "table", "tr", "blockquote", "section", "article", "br", "hr", "title"}
SKIP_TAGS = {"script", "style", "head", "nav", "footer", "header"}
SKIP_CLASSES = {"navheader", "navfooter", "sphinxsidebar", "related", "footer", "header", "navigation",
                "toc", "breadcrumbs", "rellinks", "headerlink", "nav"}


class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.skip_at, self.pre, self.parts = [], None, 0, []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK:
            self.parts.append("\n\n" if tag in ("p", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "dt") else "\n")
        if tag in VOID:
            return
        self.stack.append(tag)
        cls = set((dict(attrs).get("class") or "").split())
        if self.skip_at is None and (tag in SKIP_TAGS or cls & SKIP_CLASSES):
            self.skip_at = len(self.stack)
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag):
        if tag in VOID or tag not in self.stack:
            return
        while self.stack:
            t = self.stack.pop()
            if t == "pre":
                self.pre = max(0, self.pre - 1)
            if t == tag:
                break
        if self.skip_at is not None and len(self.stack) < self.skip_at:
            self.skip_at = None
        if tag in BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.skip_at is not None:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def clean_html(t):
    p = Text()
    p.feed(t)
    p.close()
    s = "".join(p.parts)
    s = "\n".join(line.strip() if not line.startswith("    ") else line for line in s.split("\n"))
    s = s.replace("\u00b6", "")  # sphinx pilcrows
    return tidy(s)


# ---- POD, vim help, GCIDE, fortunes -------------------------------------------

def clean_pod(t):
    out = []
    for line in t.split("\n"):
        m = re.match(r"^=(head\d|item)\s*(.*)$", line)
        if m:
            out.append(m.group(2))
            continue
        if re.match(r"^=\w+", line):
            continue
        out.append(line)
    t = "\n".join(out)
    t = re.sub(r"[A-Z]<<+\s+(.*?)\s+>>+", r"\1", t)
    for _ in range(4):
        t = re.sub(r"L<([^<>|]*)\|[^<>]*>", r"\1", t)
        t = re.sub(r"[A-Z]<([^<>]*)>", r"\1", t)
    return tidy(t)


def clean_vimhelp(t):
    lines = [l for l in t.split("\n") if not re.match(r"^\s*vim:.*:\s*$", l)]
    t = "\n".join(lines)
    t = re.sub(r"\*([^*\s]+)\*", r"\1", t)
    t = re.sub(r"\|([^|\s]+)\|", r"\1", t)
    t = re.sub(r"^[=\-]{20,}$", "", t, flags=re.M)
    return tidy(t)


def gcide_docs(t, per_doc=60):
    """Entries 'Word \\Pro*nun"ci*a*tion\\, n.' + indented definitions; pronunciation and
    source tags dropped, wrapped lines joined; 60 entries per document."""
    start = t.find("\nA \\A\\")
    t = t[start:] if start > 0 else t
    t = re.sub(r"\[(1913 Webster|WordNet[^\]]*|PJC|Century Dict\.?|Webster 1913 Suppl\.)[^\]]*\]", "", t)
    t = re.sub(r"\\[^\\\n]*\\", "", t)   # \pro*nun"ci*a*tion\
    t = t.replace("{", "").replace("}", "").replace("[deg]", " degrees")
    entries = re.split(r"\n\n(?=\S)", t)
    docs, cur = [], []
    for e in entries:
        paras = re.split(r"\n\s*\n", e.strip())
        txt = "\n".join(re.sub(r"\s*\n\s*", " ", p).strip() for p in paras if p.strip())
        if len(txt) < 20 or "Begin file" in txt or "GNU General Public License" in txt:
            continue
        cur.append(txt)
        if len(cur) == per_doc:
            docs.append("\n\n".join(cur))
            cur = []
    if cur:
        docs.append("\n\n".join(cur))
    return [tidy(d) for d in docs]


def fortune_docs(t, per_doc=40):
    items = [x.strip("\n") for x in t.split("\n%\n") if x.strip()]
    return ["\n\n".join(items[i:i + per_doc]) for i in range(0, len(items), per_doc)]


# ---- sources -----------------------------------------------------------------
# (label, glob under ROOT, cleaner, path substrings to exclude)
SOURCES = [
    ("linux-doc", "usr/share/doc/linux-doc-6.1/html/_sources/**/*.rst.txt", clean_rst, ["/translations/"]),
    ("python-doc", "usr/share/doc/python3.11/html/_sources/**/*.rst.txt", clean_rst, ["/whatsnew/changelog"]),
    ("debian-policy", "usr/share/doc/debian-policy/policy.html/_sources/*.rst.txt", clean_rst, []),
    ("django-doc", "usr/share/doc/python-django-doc/html/**/*.html", clean_html,
     ["/_modules/", "genindex", "/search.html", "py-modindex", "/releases/"]),
    ("postgresql-doc", "usr/share/doc/postgresql-doc-15/html/*.html", clean_html, ["bookindex", "release-"]),
    ("debian-reference", "usr/share/debian-reference/*.en.html", clean_html, []),
    ("developers-reference", "usr/share/developers-reference/*.html", clean_html, ["genindex", "search"]),
    ("git-doc", "usr/share/doc/git-doc/*.txt", tidy, ["RelNotes"]),
    ("perl-doc", "usr/share/perl/*/pod/*.pod", clean_pod, ["perldelta", "perl5", "perlhist"]),
    ("vim-doc", "usr/share/vim/vim90/doc/*.txt", clean_vimhelp, []),
    ("jargon", "usr/share/doc/jargon-text/jargon.txt.gz", tidy, []),
    ("gnu-standards", "usr/share/info/standards.info.gz", tidy, []),
    ("rust-books", "usr/share/doc/rust-doc/html/*/**/*.html", clean_html,
     ["/std/", "/core/", "/alloc/", "/proc_macro/", "/test/", "/implementors/", "/src/", "/unstable-book/",
      "/2018-edition/", "/first-edition/", "/second-edition/", "print.html", "/html/index.html", "toc.html"]),
    ("debian-handbook", "usr/share/doc/debian-handbook/html/en-US/*.html", clean_html, ["index.html"]),
    ("nodejs-doc", "usr/share/doc/nodejs/api/*.md.gz", tidy, ["all.md", "index.md"]),
    ("apache2-doc", "usr/share/doc/apache2-doc/manual/en/**/*.html", clean_html, ["/quickreference", "sitemap"]),
]


def split_pieces(doc):
    if len(doc) <= PIECE:
        return [doc]
    paras = doc.split("\n\n")
    pieces, cur, n = [], [], 0
    for p in paras:
        cur.append(p)
        n += len(p) + 2
        if n >= PIECE:
            pieces.append("\n\n".join(cur))
            cur, n = [], 0
    if cur:
        pieces.append("\n\n".join(cur))
    return pieces


def collect(root):
    docs, stats = [], []
    for label, pat, fn, excl in SOURCES:
        files = sorted(f for f in glob.glob(os.path.join(root, pat), recursive=True)
                       if not any(x in f for x in excl))
        n0, b0 = len(docs), sum(len(d) for _, d in docs)
        for f in files:
            try:
                d = fn(read(f))
            except Exception as e:
                print("make_corpus: skipping %s: %s" % (f, e), file=sys.stderr)
                continue
            if len(d) >= 200:
                docs += [(label, p) for p in split_pieces(d) if len(p) >= 200]
        stats.append((label, len(files), len(docs) - n0, sum(len(d) for _, d in docs) - b0))
    gc = os.path.join(root, "usr/share/dictd/gcide.dict.dz")
    if os.path.exists(gc):
        n0 = len(docs)
        docs += [("gcide", d) for d in gcide_docs(read_gz(gc))]
        stats.append(("gcide", 1, len(docs) - n0, sum(len(d) for _, d in docs[n0:])))
    fdir = os.path.join(root, "usr/share/games/fortunes")
    ff = sorted(f for f in glob.glob(fdir + "/*") if "." not in os.path.basename(f) and os.path.isfile(f))
    n0 = len(docs)
    for f in ff:
        docs += [("fortunes", tidy(d)) for d in fortune_docs(read(f)) if len(d) >= 200]
    stats.append(("fortunes", len(ff), len(docs) - n0, sum(len(d) for _, d in docs[n0:])))
    return docs, stats


def read_gz(path):
    with gzip.open(path, "rb") as f:   # dictzip is gzip-compatible
        return f.read().decode("utf-8", errors="replace")


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("outdir")
    ap.add_argument("--demo-heldout")
    a = ap.parse_args()
    docs, stats = collect(a.root)
    seen, keyed = set(), []
    for label, d in docs:
        h = hashlib.sha256(d.encode("utf-8")).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        keyed.append((h, label, d))
    keyed.sort()
    train = [(l, d) for h, l, d in keyed if int(h[:8], 16) % 100 != 0]
    held = [(l, d) for h, l, d in keyed if int(h[:8], 16) % 100 == 0]
    os.makedirs(a.outdir, exist_ok=True)
    for name, part in (("train.txt", train), ("heldout.txt", held)):
        with open(os.path.join(a.outdir, name), "w", encoding="utf-8") as f:
            f.write("\n\n".join(d for _, d in part) + "\n")
    with open(os.path.join(a.outdir, "stats.txt"), "w") as f:
        for label, nf, nd, nb in stats:
            f.write("%-22s files %6d docs %7d chars %11d\n" % (label, nf, nd, nb))
        f.write("after dedup: %d docs; train %d docs %d chars; heldout %d docs %d chars\n"
                % (len(keyed), len(train), sum(len(d) for _, d in train), len(held),
                   sum(len(d) for _, d in held)))
    if a.demo_heldout:
        out, n = [], 0
        for _, d in held:
            if n >= DEMO_HELDOUT:
                break
            out.append(d)
            n += len(d.encode("utf-8")) + 2
        with open(a.demo_heldout, "w", encoding="utf-8") as f:
            f.write("\n\n".join(out) + "\n")
    sys.stdout.write(open(os.path.join(a.outdir, "stats.txt")).read())


if __name__ == "__main__":
    main()
