#!/usr/bin/env python3
"""Loads a `connreset report --html` page in headless Chromium (Debian's
/usr/bin/chromium, never a downloaded browser) at 1280 px and checks what a
person would see: no horizontal overflow, timeline markers placed by time (x
never decreases as time increases; a cut in the scale is labelled "+N s|ms|us"),
and the RST line joining the sender's and the receiver's RST markers. Keeps a
screenshot. The page forbids scripts (CSP), so a wrapper page inspects it
through an iframe (same file:// origin with --allow-file-access-from-files).
   check_page.py PAGE.html ARTIFACT_DIR      exit 0: all checks passed; prints a JSON summary
"""
import html
import json
import os
import re
import subprocess
import sys
import tempfile

CHROMIUM = os.environ.get("CONNRESET_CHROMIUM", "/usr/bin/chromium")
WIDTH = 1280

WRAPPER = """<!DOCTYPE html><html><head><meta charset=utf-8></head><body style="margin:0">
<iframe id=f src="%s" style="width:%dpx;height:4000px;border:0"></iframe>
<pre id=out>pending</pre>
<script>
document.getElementById('f').addEventListener('load', () => {
  const d = document.getElementById('f').contentDocument;
  const r = {scrollWidth: d.documentElement.scrollWidth, clientWidth: d.documentElement.clientWidth, svgs: []};
  for (const svg of d.querySelectorAll('svg.timeline')) {
    const box = svg.getBoundingClientRect();
    const markers = [...svg.querySelectorAll('circle.marker')].map(c => {
      const b = c.getBoundingClientRect();
      return {ts: c.dataset.ts, end: +c.dataset.end, kind: c.getAttribute('fill'),
              cx: +c.getAttribute('cx'), cy: +c.getAttribute('cy'), x: b.x + b.width / 2};
    });
    const rst = svg.querySelector('line.rst');
    r.svgs.push({right: box.right, markers,
                 cuts: [...svg.querySelectorAll('g.cut text')].map(t => t.textContent),
                 cut_x: [...svg.querySelectorAll('g.cut line')].map(l => +l.getAttribute('x1')),
                 rst: rst ? ['x1', 'y1', 'x2', 'y2'].map(a => +rst.getAttribute(a)) : null});
  }
  document.getElementById('out').textContent = JSON.stringify(r);
});
</script></body></html>"""


def chromium(args, profile):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--user-data-dir=" + profile] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def main():
    page, artifacts = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(artifacts, exist_ok=True)
    failures = []
    with tempfile.TemporaryDirectory(prefix="connreset-browser-") as tmp:
        wrapper = os.path.join(tmp, "wrapper.html")
        with open(wrapper, "w") as f:
            f.write(WRAPPER % ("file://" + page, WIDTH))
        p = chromium(["--allow-file-access-from-files", "--virtual-time-budget=10000",
                      f"--window-size={WIDTH + 40},1000", "--dump-dom", "file://" + wrapper],
                     os.path.join(tmp, "profile1"))
        m = re.search(r'<pre id="out">(.*?)</pre>', p.stdout, re.S)
        if p.returncode != 0 or not m or m.group(1) == "pending":
            print(f"chromium did not report the page's layout (rc {p.returncode}):\n{p.stderr[-2000:]}",
                  file=sys.stderr)
            return 2
        r = json.loads(html.unescape(m.group(1)))
        shot = os.path.join(artifacts, "report-1280.png")
        s = chromium([f"--window-size={WIDTH},2400", "--hide-scrollbars", "--screenshot=" + shot,
                      "file://" + page], os.path.join(tmp, "profile2"))
        if s.returncode != 0 or not os.path.exists(shot):
            failures.append(f"no screenshot (rc {s.returncode}): {s.stderr[-500:]}")
    if r["scrollWidth"] > r["clientWidth"]:
        failures.append(f"horizontal overflow at {WIDTH} px: scrollWidth {r['scrollWidth']} > "
                        f"clientWidth {r['clientWidth']}")
    if not r["svgs"]:
        failures.append("no timeline on the page")
    markers = 0
    for i, svg in enumerate(r["svgs"]):
        if svg["right"] > r["clientWidth"] + 1:
            failures.append(f"timeline {i} ends at {svg['right']:.0f} px, past the window")
        ms = sorted(svg["markers"], key=lambda m: int(m["ts"]))
        markers += len(ms)
        for a, b in zip(ms, ms[1:]):
            if b["x"] + 0.01 < a["x"]:
                failures.append(f"timeline {i}: marker at ts {b['ts']} is left of the earlier one at {a['ts']}")
        # to scale: between two cuts, x is proportional to time
        segs, cur = [], [ms[0]] if ms else []
        for a, b in zip(ms, ms[1:]):
            if any(a["cx"] < c < b["cx"] for c in svg["cut_x"]):
                segs.append(cur)
                cur = [b]
            else:
                cur.append(b)
        if cur:
            segs.append(cur)
        for seg in segs:
            span_t = int(seg[-1]["ts"]) - int(seg[0]["ts"])
            span_x = seg[-1]["cx"] - seg[0]["cx"]
            if span_t <= 0 or len(seg) < 3:
                continue
            k = span_x / span_t
            for m_ in seg:
                want = seg[0]["cx"] + (int(m_["ts"]) - int(seg[0]["ts"])) * k
                if abs(m_["cx"] - want) > 1.5:
                    failures.append(f"timeline {i}: marker at ts {m_['ts']} at x {m_['cx']}, "
                                    f"{want:.1f} to scale")
        for label in svg["cuts"]:
            if not re.fullmatch(r"\+\d+(\.\d+)? (s|ms|us)", label):
                failures.append(f"timeline {i}: cut label {label!r}")
        rst = [m_ for m_ in ms if m_["kind"] == "#d22"]
        sent = [m_ for m_ in rst if m_["end"] == 1]
        received = [m_ for m_ in rst if m_["end"] == 0]
        if sent and received:
            x1, y1, x2, y2 = svg["rst"] or (None,) * 4
            if svg["rst"] is None or abs(x1 - sent[0]["cx"]) > 0.1 or abs(x2 - received[0]["cx"]) > 0.1:
                failures.append(f"timeline {i}: the RST line {svg['rst']} does not join the markers at "
                                f"x {sent[0]['cx']} (sent) and {received[0]['cx']} (received)")
    summary = {"width": WIDTH, "scrollWidth": r["scrollWidth"], "clientWidth": r["clientWidth"],
               "timelines": len(r["svgs"]), "markers": markers,
               "cuts": sorted({c for s_ in r["svgs"] for c in s_["cuts"]}),
               "screenshot": os.path.join(artifacts, "report-1280.png"), "failures": failures}
    print(json.dumps(summary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
