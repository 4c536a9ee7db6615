#!/usr/bin/env python3
"""tools/scaling_plot.py on a small report: the panels, the lines and the scale it draws."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "scaling_plot.py")

REPORT = """\
| workload | workers | unit | weft |
|---|---:|---|---:|
| `mutex workers=1` | 1 | ms | 10 |

Scaling: the same cases by worker count.

| workload | impl | unit | 1w | 2w | 4w | 8w | 2w ÷ 1w | 8w ÷ 2w |
|---|---|---|---:|---:|---:|---:|---:|---:|
| `mutex` | weft | ms | 10 | 11 | 11 | 12 | 1.10 | 1.09 |
| `mutex` | go | ms | 10 | 40 | 30 | fail | 4.00 | — |
| `pool` | weft | ops_per_s | 1000000 | 500000 | 1,000,000 | 250000 | 0.50 | 0.50 |

<details>
| `mutex` | weft | 1 | ms | 10 | 9 | 11 | 5/5 |
</details>
"""


def polylines(svg):
    return re.findall(r'<polyline points="([^"]*)" fill="none" stroke="([^"]*)"', svg)


class ScalingPlot(unittest.TestCase):
    def render(self, report, *extra):
        with tempfile.TemporaryDirectory() as tmp:
            table = os.path.join(tmp, "table.md")
            svg = os.path.join(tmp, "out.svg")
            with open(table, "w", encoding="utf-8") as f:
                f.write(report)
            run = subprocess.run([sys.executable, TOOL, table, svg, *extra],
                                 capture_output=True, text=True, check=False)
            if run.returncode != 0:
                return run, None
            with open(svg, encoding="utf-8") as f:
                return run, f.read()

    def test_one_panel_per_workload_one_line_per_implementation(self):
        _, svg = self.render(REPORT, "--title", "T & co")
        self.assertIn("T &amp; co", svg)
        self.assertIn(">mutex<", svg)
        self.assertIn(">pool<", svg)
        lines = polylines(svg)
        self.assertEqual(len(lines), 3)  # weft and go for mutex, weft for pool
        self.assertEqual(len({color for _, color in lines}), 2)  # one color per implementation

    def test_failed_cells_are_left_out_and_rates_are_inverted(self):
        _, svg = self.render(REPORT)
        mutex_weft, mutex_go, pool_weft = (points.split() for points, _ in polylines(svg))
        self.assertEqual(len(mutex_weft), 4)
        self.assertEqual(len(mutex_go), 3)  # the 8-worker run failed
        ys = [float(p.split(",")[1]) for p in pool_weft]
        # Half the rate is twice the cost: drawn higher (smaller y) than 1 worker.
        self.assertLess(ys[1], ys[0])
        self.assertAlmostEqual(ys[2], ys[0], places=1)  # "1,000,000" parses as 1e6
        self.assertIn("1 / ops_per_s", svg)

    def test_a_report_without_scaling_table_is_an_error(self):
        run, svg = self.render("| workload | workers |\n|---|---|\n")
        self.assertIsNone(svg)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("no scaling table", run.stderr)


if __name__ == "__main__":
    unittest.main()
