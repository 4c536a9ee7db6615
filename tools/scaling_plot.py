#!/usr/bin/env python3
"""Draws the scaling table of bench/compare_with_peers.sh as an SVG.

    tools/scaling_plot.py TABLE.md OUT.svg [--title TEXT]

TABLE.md is the script's report (<build>/peers-compare/table.md). One panel
per workload of its "Scaling" table, one line per implementation, workers
(1, 2, 4, 8, ...) across. Every value is drawn as a cost relative to weft's
1-worker figure (rates are inverted first: 1 / ops_per_s), on a log scale,
so a flat line means "more workers cost nothing" and a line that climbs
means the implementation slows down as workers are added. Failed cells are
left out.
"""
import argparse
import math
import re
from xml.sax.saxutils import escape

PANEL_W, PANEL_H, COLUMNS = 330, 230, 3
MARGIN_L, MARGIN_T, MARGIN_B = 48, 34, 34
PALETTE = ["#d1495b", "#edae49", "#00798c", "#30638e", "#003d5b", "#66a182", "#8d6a9f",
           "#6c757d", "#b5838d", "#9c6644", "#2a9d8f", "#e76f51"]
RATE_UNITS = ("ops_per_s",)


def parse_scaling(path):
    """{workload: {"unit": str, "workers": [int], "lines": {impl: [float|None]}}}, in table order."""
    panels = {}
    header = None
    in_scaling = False
    with open(path, encoding="utf-8") as table:
        for line in table:
            if line.startswith("Scaling:"):
                in_scaling = True
                continue
            if not in_scaling or not line.startswith("|"):
                if in_scaling and header and not line.strip():
                    break  # the table ended
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == "workload":
                header = [int(c[:-1]) for c in cells[3:] if re.fullmatch(r"\d+w", c)]
                continue
            if header is None or set(cells[0]) <= set("-: "):
                continue
            workload = cells[0].strip("`")
            panel = panels.setdefault(workload, {"unit": cells[2], "workers": header, "lines": {}})
            values = []
            for cell in cells[3:3 + len(header)]:
                try:
                    values.append(float(cell.replace(",", "")))
                except ValueError:
                    values.append(None)
            panel["lines"][cells[1]] = values
    if not panels:
        raise SystemExit(f"scaling_plot: no scaling table in {path}")
    return panels


def relative_costs(panel):
    """Each implementation's values as costs relative to weft's 1-worker value."""
    rate = panel["unit"] in RATE_UNITS
    costs = {impl: [None if v in (None, 0) else (1 / v if rate else v) for v in values]
             for impl, values in panel["lines"].items()}
    base = (costs.get("weft") or [None])[0]
    if base is None:
        return {}
    return {impl: [None if c is None else c / base for c in values] for impl, values in costs.items()}


def draw_panel(out, x0, y0, name, panel, colors):
    lines = relative_costs(panel)
    workers = panel["workers"]
    values = [v for vs in lines.values() for v in vs if v is not None]
    if not values:
        return
    lo = min(values + [1.0]) / 1.3
    hi = max(values + [1.0]) * 1.3
    plot_w = PANEL_W - MARGIN_L - 14
    plot_h = PANEL_H - MARGIN_T - MARGIN_B

    def px(i):
        return x0 + MARGIN_L + plot_w * i / max(1, len(workers) - 1)

    def py(v):
        return y0 + MARGIN_T + plot_h * (1 - (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))

    unit = "1 / " + panel["unit"] if panel["unit"] in RATE_UNITS else panel["unit"]
    out.append(f'<text x="{x0 + MARGIN_L}" y="{y0 + 20}" font-weight="bold">{escape(name)}'
               f'<tspan font-weight="normal" fill="#555"> ({escape(unit)}, ÷ weft at 1)</tspan></text>')
    out.append(f'<rect x="{x0 + MARGIN_L}" y="{y0 + MARGIN_T}" width="{plot_w}" height="{plot_h}" '
               'fill="none" stroke="#bbb"/>')
    decade = 10 ** math.floor(math.log10(lo))
    while decade <= hi:
        for step in (1, 2, 5):
            tick = decade * step
            if lo <= tick <= hi:
                y = py(tick)
                out.append(f'<line x1="{x0 + MARGIN_L}" x2="{x0 + MARGIN_L + plot_w}" y1="{y:.1f}" '
                           f'y2="{y:.1f}" stroke="#eee"/>')
                out.append(f'<text x="{x0 + MARGIN_L - 4}" y="{y + 4:.1f}" text-anchor="end" '
                           f'font-size="10">{tick:g}×</text>')
        decade *= 10
    for i, w in enumerate(workers):
        out.append(f'<text x="{px(i):.1f}" y="{y0 + PANEL_H - 14}" text-anchor="middle" '
                   f'font-size="10">{w}</text>')
    out.append(f'<text x="{x0 + MARGIN_L + plot_w / 2}" y="{y0 + PANEL_H - 2}" text-anchor="middle" '
               'font-size="10" fill="#555">workers</text>')
    for impl, vs in lines.items():
        points = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None]
        if not points:
            continue
        width = 3 if impl == "weft" else 1.6
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colors[impl]}" '
                   f'stroke-width="{width}"/>')
        for x, y in points:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colors[impl]}"/>')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("svg")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    panels = parse_scaling(args.table)
    impls = []
    for panel in panels.values():
        impls += [impl for impl in panel["lines"] if impl not in impls]
    colors = {impl: PALETTE[i % len(PALETTE)] for i, impl in enumerate(impls)}
    rows = math.ceil(len(panels) / COLUMNS)
    legend_h = 26
    title_h = 24 if args.title else 0
    width = PANEL_W * COLUMNS
    height = title_h + legend_h + rows * PANEL_H
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    if args.title:
        out.append(f'<text x="10" y="17" font-size="14">{escape(args.title)}</text>')
    x = 10
    for impl in impls:
        out.append(f'<rect x="{x}" y="{title_h + 8}" width="14" height="4" fill="{colors[impl]}"/>')
        out.append(f'<text x="{x + 18}" y="{title_h + 14}">{escape(impl)}</text>')
        x += 26 + 7 * len(impl)
    for n, (name, panel) in enumerate(panels.items()):
        draw_panel(out, PANEL_W * (n % COLUMNS), title_h + legend_h + PANEL_H * (n // COLUMNS), name,
                   panel, colors)
    out.append("</svg>")
    with open(args.svg, "w", encoding="utf-8") as svg:
        svg.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
