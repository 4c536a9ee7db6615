#!/usr/bin/env python3
"""Draws a window of a weft trace (weft::trace / WEFT_TRACE) as an SVG.

    tools/trace_to_svg.py TRACE.json OUT.svg [--from US] [--span US]

One row per thread that ran fibers; a box per fiber run, colored by fiber
and labeled with its name when it is wide enough; a tick under the row for
every park; an arrow from each wake or spawn to the run it caused. For the
full picture, open the trace itself in https://ui.perfetto.dev.
"""
import argparse
import colorsys
import json
from xml.sax.saxutils import escape

ROW, GAP, LEFT, WIDTH = 34, 14, 90, 1100


def color(fiber):
    hue = (fiber * 0.6180339887) % 1.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.62, 0.55)
    return "#%02x%02x%02x" % (int(r * 255), int(g * 255), int(b * 255))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("svg")
    parser.add_argument("--from", dest="start", type=float, default=None,
                        help="window start, microseconds into the trace (default: the first run)")
    parser.add_argument("--span", type=float, default=200.0, help="window length in microseconds")
    args = parser.parse_args()

    events = json.load(open(args.trace))["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M"}
    runs = [e for e in events if e["ph"] == "X"]
    if not runs:
        raise SystemExit("no fiber runs in " + args.trace)
    start = args.start if args.start is not None else min(e["ts"] for e in runs)
    end = start + args.span
    tids = sorted({e["tid"] for e in runs}, key=lambda t: names.get(t, str(t)))
    row_of = {t: i for i, t in enumerate(tids)}
    x = lambda ts: LEFT + (ts - start) / args.span * (WIDTH - LEFT - 10)
    y = lambda tid: 30 + row_of[tid] * (ROW + GAP)
    height = 30 + len(tids) * (ROW + GAP) + 30

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="11">' % (WIDTH, height),
           '<defs><marker id="a" markerWidth="6" markerHeight="6" refX="5" refY="3" orient="auto">'
           '<path d="M0,0 L6,3 L0,6 z" fill="#333"/></marker></defs>',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18">%s: %.0f µs from %.1f µs</text>' % (LEFT, escape(args.trace.split("/")[-1]),
                                                                   args.span, start)]
    for tid in tids:
        out.append('<text x="8" y="%d">%s</text>' % (y(tid) + ROW / 2 + 4, escape(names.get(tid, str(tid)))))
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#ddd"/>' % (LEFT, WIDTH - 10, y(tid) + ROW, y(tid) + ROW))
    run_at = {}
    for e in runs:
        if e["ts"] + e["dur"] < start or e["ts"] > end:
            continue
        x0, x1 = max(x(e["ts"]), LEFT), min(x(e["ts"] + e["dur"]), WIDTH - 10)
        fiber = e["args"]["fiber"]
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" stroke="#555" stroke-width="0.3">'
                   '<title>%s (%.2f µs)</title></rect>' % (x0, y(e["tid"]), max(x1 - x0, 0.6), ROW, color(fiber),
                                                          escape(e["name"]), e["dur"]))
        if x1 - x0 > 7 * len(e["name"]):
            out.append('<text x="%.1f" y="%d">%s</text>' % (x0 + 3, y(e["tid"]) + ROW / 2 + 4, escape(e["name"])))
    for e in events:
        if e["ph"] == "i" and e["name"] == "park" and start <= e["ts"] <= end and e["tid"] in row_of:
            out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#c00"/>'
                       % (x(e["ts"]), x(e["ts"]), y(e["tid"]) + ROW, y(e["tid"]) + ROW + 5))
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    for e in events:
        if e["ph"] != "f" or e["id"] not in starts:
            continue
        s = starts[e["id"]]
        if not (start <= s["ts"] <= end and start <= e["ts"] <= end):
            continue
        if s["tid"] not in row_of or e["tid"] not in row_of:
            continue
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" stroke-width="0.6" '
                   'marker-end="url(#a)"/>' % (x(s["ts"]), y(s["tid"]) + ROW / 2, x(e["ts"]), y(e["tid"]) + 4))
    out.append('<text x="%d" y="%d" fill="#555">boxes: fiber runs (colour = fiber); red ticks: parks; '
               'arrows: a wake or spawn to the run it caused</text>' % (LEFT, height - 10))
    out.append("</svg>")
    open(args.svg, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
