// weft-load: the HTML report (`--html FILE`, for a run or a merge). One
// self-contained file: the report's JSON in a <script type="application/json">
// element, and inline CSS and JavaScript that draw SVG charts from it when
// the page opens, with nothing fetched from anywhere (no CDN, no fonts):
// it can be mailed, archived or opened offline.
//
// The charts, each an <svg> the script creates with a known id (the
// browser test looks for them):
//   chart-rps          responses and errors per second (the timeline)
//   chart-latency      p50 and p99 per second
//   chart-plan         the users, or the rate, in force per second
//   chart-percentiles  the latency by percentile, HDR style: the x axis
//                      runs 0%, 90%, 99%, 99.9%, ... on a log scale of
//                      1 / (1 - percentile), from the whole run's histogram
//   chart-outcomes     responses by status code, and errors by kind
// and a summary table. A report without a timeline (from an older
// weft-load) shows the distribution and outcomes only.
#pragma once

#include <string>

#include "report.hpp"

namespace weft::load {

/// The HTML page for `r`.
std::string html_report(const report& r);

}  // namespace weft::load
