#!/usr/bin/python3
"""tests/browser/report_check.py — `sinkscope report` in a real browser (part of `make test`).

Runs two demo checkpoints on a prompt with `--dump attention` (the second with two of its
four heads), writes a report of both, opens it in headless Chromium (Debian's `chromium`,
exec'd as a child and driven through the DevTools protocol over --remote-debugging-pipe,
Python standard library only) and checks, against the run files read with h5py:
  - the page loads with no console error, no exception and no request but the page itself
    (data: URIs inside the SVG figures are not requests);
  - the summary tables show the runs' /summary numbers;
  - the explorer's mean view at key 0 is the first-token share of the sequence;
  - hovering a token (a real mouse move) makes it the query and colours the key tokens
    with its row A[q, 0..q] (mean over heads, then one head), hovering another changes it;
  - the log-scale and query-0 toggles change what is shown.
Screenshots are kept in OUTDIR (default build/test-artifacts). Without chromium the check
prints a SKIP in capitals and exits 0, or 1 when CI=true (CI installs it: make deps).

usage: /usr/bin/python3 tests/browser/report_check.py [--sinkscope ./sinkscope] [--outdir DIR]
"""
import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

PROMPT = ("The quick brown fox jumps over the lazy dog. Attention sinks appear at the first token "
          "of almost every sequence, and a gate removes them.")
TIMEOUT_S = 60
TOL = 2e-3  # relative: 16-bit log codes (3.2e-4) plus the page's float32 and 6 printed digits


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Browser:
    """Chromium with the DevTools protocol on fds 3 (commands in) and 4 (replies out)."""

    def __init__(self, exe, profile, log):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # the child's fds 3 and 4 are dup2'd from copies above 10, which cannot collide with them
        hi_r = os.dup2(to_chrome_r, 11, inheritable=False)
        hi_w = os.dup2(from_chrome_w, 12, inheritable=False)
        argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", "--user-data-dir=" + profile, "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--mute-audio", "about:blank"]
        logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, logfd, 1), (os.POSIX_SPAWN_DUP2, logfd, 2),
                   (os.POSIX_SPAWN_DUP2, hi_r, 3), (os.POSIX_SPAWN_DUP2, hi_w, 4)]
        self.pid = os.posix_spawn(exe, argv, os.environ, file_actions=actions)
        for fd in (to_chrome_r, from_chrome_w, hi_r, hi_w, logfd):
            os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            check(left > 0, "chromium did not answer within %d s" % TIMEOUT_S)
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if r:
                chunk = os.read(self.from_chrome, 1 << 20)
                check(chunk, "chromium closed the DevTools pipe (crashed?)")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                check("error" not in m, "%s failed: %s" % (method, m.get("error")))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method):
        deadline = time.monotonic() + TIMEOUT_S
        for m in self.events:
            if m.get("method") == method:
                return m
        while True:
            m = self._read_message(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        check("exceptionDetails" not in r, "page script failed: %s: %s" % (expr[:80], r.get("exceptionDetails")))
        return r["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        for _ in range(100):
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return
            time.sleep(0.05)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    check(p.returncode == 0, "%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stdout


def make_report(ss, tmp):
    runs = []
    for model, extra in (("baseline", []), ("gated_elementwise", ["--heads", "0,2"])):
        out = os.path.join(tmp, model + ".h5")
        run([ss, "run", "-m", "demo/models/" + model, "-p", PROMPT, "--dump", "attention", "-o", out, "--quiet"]
            + extra)
        runs.append(out)
    page = os.path.join(tmp, "report.html")
    run([ss, "report", runs[0], runs[1], "--labels", "baseline,elementwise", "--max-sink-rate", "0.3",
         "-o", page])
    return runs, page


def fmt3(v):
    s = "%.3f" % v
    return "0.000" if s == "-0.000" else s


def check_tables(b, runs):
    cells = b.eval("""Array.from(document.querySelectorAll('#summary details.run')).map(d => {
        const t = d.querySelector('table'); const keys = Array.from(t.querySelectorAll('th')).map(h => h.dataset.key);
        const vals = Array.from(t.querySelectorAll('tbody tr:first-child td')).map(td => td.textContent);
        return Object.fromEntries(keys.map((k, i) => [k, vals[i]])); })""")
    check(len(cells) == 2, "summary: %d run tables, want 2" % len(cells))
    for path, row in zip(runs, cells):
        with h5py.File(path, "r") as f:
            want = {"first_token_share": fmt3(f["/summary/first_token_share"][()]),
                    "perplexity": fmt3(f["/summary/perplexity"][()]),
                    "sink_rate": fmt3(f["/summary/sink_rate"][()]),
                    "max_activation_mean": "%.1f" % f["/summary/max_activation_mean"][()]}
            if "/summary/gate_mean" in f:
                want["gate_mean"] = fmt3(f["/summary/gate_mean"][()])
        for k, v in want.items():
            check(row.get(k) == v, "summary of %s: %s shows %r, the run file says %s" % (path, k, row.get(k), v))
        print("  tables: %s shows F-Attn %s, PPL %s, sink rate %s, M-Act %s (= /summary)" % (
            os.path.basename(path), row["first_token_share"], row["perplexity"], row["sink_rate"],
            row["max_activation_mean"]))
    compare = b.eval("document.querySelectorAll('#compare table').length")
    verdicts = b.eval("Array.from(document.querySelectorAll('#audit .verdict')).map(p => p.textContent)")
    check(compare >= 2, "compare: %s tables" % compare)
    check(len(verdicts) == 2, "audit: verdicts %s" % verdicts)
    with h5py.File(runs[0], "r") as f:
        sink = f["/summary/sink_rate"][()]
    check(("FAIL" in verdicts[0]) == (sink > 0.3), "audit verdict %r for sink rate %.3f, limit 0.3" % (verdicts[0], sink))


def shown_values(b):
    return b.eval("""({q: Number(document.getElementById('ex-status').dataset.query),
        v: Array.from(document.querySelectorAll('#ex-tokens .tok')).map(s => s.dataset.v),
        query: Array.from(document.querySelectorAll('#ex-tokens .tok.query')).map(s => Number(s.dataset.i)),
        bg: Array.from(document.querySelectorAll('#ex-tokens .tok')).map(s => s.style.backgroundColor),
        bars: document.querySelectorAll('#ex-bars rect').length,
        status: document.getElementById('ex-status').textContent})""")


def close_to(got, want, what):
    got = np.array([float(x) for x in got])
    check(got.shape == want.shape, "%s: %d values shown, want %d" % (what, got.size, want.size))
    err = np.abs(got - want) / np.maximum(np.abs(want), 1e-6)
    check(np.all((err <= TOL) | (np.abs(got - want) < 1e-8)),
          "%s: shown %s, run file %s (max rel. error %.2e)" % (what, got[:6], want[:6], err.max()))
    return err.max()


def hover(b, i):
    r = b.eval("(() => { const s = document.querySelector('#ex-tokens .tok[data-i=\"%d\"]'); s.scrollIntoView({block: 'nearest'});"
               " const r = s.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()" % i)
    b.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": r[0], "y": r[1]})


def choose(b, sel_id, value):
    b.eval("(() => { const e = document.getElementById('%s'); e.value = '%s';"
           " e.dispatchEvent(new Event('change')); })()" % (sel_id, value))


def check_explorer(b, runs):
    with h5py.File(runs[0], "r") as f:
        A = f["/attention/layer_00"][0].astype(np.float64)  # [head, q, k]
    n = A.shape[1]
    s = shown_values(b)
    check(s["q"] == -1 and not s["query"], "explorer starts with query %s, want the mean view" % s["q"])
    mean_view = A.mean(axis=0)[1:, :].mean(axis=0)  # mean over heads, then queries q >= 1
    e0 = close_to(s["v"], mean_view, "mean view of layer 1")
    with h5py.File(runs[0], "r") as f:
        fts = f["/stats/first_token_share_layer"][0]
    check(abs(float(s["v"][0]) - fts) <= TOL * fts, "mean view key 0 %s != first_token_share_layer[0] %.6f" %
          (s["v"][0], fts))
    print("  explorer: mean view = mean over queries q >= 1 (max rel. error %.1e); key 0 = %s = "
          "/stats/first_token_share_layer[0] %.6f" % (e0, s["v"][0], fts))

    q = n // 2
    hover(b, q)
    s = shown_values(b)
    check(s["q"] == q and s["query"] == [q], "after hovering token %d the query is %s (marked %s)" % (q, s["q"], s["query"]))
    check(all(v == "" for v in s["v"][q + 1:]), "keys after the query carry values")
    e1 = close_to(s["v"][:q + 1], A.mean(axis=0)[q, :q + 1], "row %d, mean over heads" % q)
    check(s["bars"] == q + 1, "bar chart: %d bars for query %d" % (s["bars"], q))
    bg_mean = s["bg"]
    choose(b, "ex-head", 1)
    s = shown_values(b)
    e2 = close_to(s["v"][:q + 1], A[1, q, :q + 1], "row %d, head 1" % q)
    print("  explorer: hovering token %d shows its row: mean over heads (max rel. error %.1e), head 1 (%.1e)" %
          (q, e1, e2))
    q2 = 3
    hover(b, q2)
    s2 = shown_values(b)
    check(s2["q"] == q2 and s2["query"] == [q2] and s2["v"] != s["v"], "hovering token %d did not change the row" % q2)
    close_to(s2["v"][:q2 + 1], A[1, q2, :q2 + 1], "row %d, head 1" % q2)
    hover(b, q)
    choose(b, "ex-head", -1)
    b.eval("document.getElementById('ex-log').click()")
    s = shown_values(b)
    check(s["bg"] != bg_mean and "log" in b.eval("document.getElementById('ex-scale').textContent"),
          "the log colour scale changed no colour")
    print("  explorer: hovering token %d then %d changed the highlighted row; log scale recolours" % (q, q2))
    return q


def check_toggle_q0_and_run2(b, runs):
    b.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 2, "y": 2})  # leave the tokens: mean view
    b.eval("document.getElementById('ex-q0').click()")
    s = shown_values(b)
    with h5py.File(runs[0], "r") as f:
        A = f["/attention/layer_00"][0].astype(np.float64)
    check(s["q"] == -1, "leaving the tokens did not return to the mean view")
    close_to(s["v"], A.mean(axis=0).mean(axis=0), "mean view including query 0")
    # the second run dumped heads 0 and 2: its "head 2" entry is the file's second stored head
    choose(b, "ex-run", 1)
    choose(b, "ex-head", 1)
    hover(b, 5)
    s = shown_values(b)
    with h5py.File(runs[1], "r") as f:
        d = f["/attention/layer_00"]
        heads = list(d.attrs["heads"])
        B = d[0].astype(np.float64)
    check(heads == [0, 2], "second run's dumped heads %s" % heads)
    check("head 2" in s["status"], "status after choosing the second dumped head: %s" % s["status"])
    close_to(s["v"][:6], B[1, 5, :6], "second run, head 2, row 5")
    print("  explorer: 'include query 0' = mean over all queries; run 2 (heads 0,2 dumped) shows head 2's row")


def screenshot(b, path, clip_id=None):
    """The viewport, or the element clip_id (already scrolled into view: scrolling would move the mouse)."""
    params = {"format": "png"}
    if clip_id:
        r = b.eval("(() => { const r = document.getElementById('%s').getBoundingClientRect();"
                   " return [r.x + window.scrollX, r.y + window.scrollY, r.width, Math.min(r.height, innerHeight)]; })()"
                   % clip_id)
        params["clip"] = {"x": r[0], "y": r[1], "width": r[2], "height": r[3], "scale": 1}
    png = base64.b64decode(b.send("Page.captureScreenshot", params)["data"])
    with open(path, "wb") as f:
        f.write(png)
    print("  screenshot: %s (%d bytes)" % (path, len(png)))


def browse(exe, page, runs, outdir, tmp):
    b = Browser(exe, os.path.join(tmp, "profile"), os.path.join(outdir, "chromium.log"))
    try:
        b.session = None
        t = b.send("Target.createTarget", {"url": "about:blank"})
        b.session = b.send("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            b.send(domain + ".enable")
        b.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1100, "deviceScaleFactor": 1,
                                                      "mobile": False})
        url = "file://" + os.path.abspath(page)
        b.send("Page.navigate", {"url": url})
        b.wait_event("Page.loadEventFired")
        check(b.eval("document.readyState") == "complete", "page not loaded")
        check_tables(b, runs)
        q = check_explorer(b, runs)
        b.eval("document.getElementById('explorer').scrollIntoView()")
        hover(b, q)
        check(shown_values(b)["q"] == q, "hovered token %d is not the query before the screenshot" % q)
        screenshot(b, os.path.join(outdir, "report-explorer.png"), "explorer")
        check_toggle_q0_and_run2(b, runs)
        b.eval("window.scrollTo(0, 0)")
        screenshot(b, os.path.join(outdir, "report-top.png"))
        errors, requests = [], []
        for m in b.events:
            meth, p = m.get("method"), m.get("params", {})
            if meth == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "") + " " +
                              str(p["exceptionDetails"].get("exception", {}).get("description", "")))
            elif meth == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                errors.append("console.%s: %s" % (p["type"], [a.get("value") for a in p.get("args", [])]))
            elif meth == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                errors.append("%s: %s" % (p["entry"].get("source"), p["entry"].get("text")))
            elif meth == "Network.requestWillBeSent":
                u = p["request"]["url"]
                if u != url and not u.startswith("data:"):
                    requests.append(u)
        check(not errors, "console errors: %s" % errors)
        check(not requests, "network requests: %s" % requests)
        n_req = sum(1 for m in b.events if m.get("method") == "Network.requestWillBeSent")
        print("  page: no console error or warning, no request but the page itself (%d request events, "
              "data: URIs included)" % n_req)
    finally:
        b.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sinkscope", default="./sinkscope")
    ap.add_argument("--outdir", default="build/test-artifacts")
    a = ap.parse_args()
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        print("SKIP: BROWSER CHECK OF `sinkscope report` NOT RUN: chromium is not installed (make deps installs it)"
              + ("; FAILS under CI=true" if os.environ.get("CI") == "true" else ""))
        sys.exit(1 if os.environ.get("CI") == "true" else 0)
    os.makedirs(a.outdir, exist_ok=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ss-report-check-") as tmp:
        try:
            runs, page = make_report(a.sinkscope, tmp)
            shutil.copy(page, os.path.join(a.outdir, "report.html"))
            browse(exe, page, runs, a.outdir, tmp)
        except Failure as e:
            print("report browser check: FAILED: %s" % e)
            sys.exit(1)
    print("report browser check: passed in %.1f s (artefacts in %s)" % (time.monotonic() - t0, a.outdir))


if __name__ == "__main__":
    main()
