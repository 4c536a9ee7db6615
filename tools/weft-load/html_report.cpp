// weft-load: html_report (html_report.hpp): the page is fixed text around
// the report's JSON; its script does the drawing, in the browser.
#include "html_report.hpp"

#include <nlohmann/json.hpp>
#include <string_view>

namespace weft::load {

namespace {

constexpr std::string_view page_head = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>weft-load report</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; color: #1d2430; background: #fff;
         max-width: 1100px; margin: 24px auto; padding: 0 16px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 24px 0 6px; }
  .sub { color: #5a6475; margin: 0 0 12px; }
  table.summary { border-collapse: collapse; }
  table.summary td { padding: 2px 14px 2px 0; }
  table.summary td:first-child { color: #5a6475; }
  svg { width: 100%; height: auto; display: block; }
  .plot { fill: #fafbfd; stroke: #d5dae3; }
  .grid { stroke: #e6e9ef; }
  .tick, .axis, .label { font-size: 12px; fill: #5a6475; }
  .line { fill: none; stroke-width: 2; }
  .s0 { stroke: #2f6fdb; } .s1 { stroke: #d9412f; } .s2 { stroke: #1e9e6a; }
  .f0 { fill: #2f6fdb; } .f1 { fill: #d9412f; } .f2 { fill: #1e9e6a; }
  .ok { fill: #1e9e6a; } .warn { fill: #e0a021; } .err { fill: #d9412f; }
  .none { color: #5a6475; font-style: italic; }
</style>
</head>
<body>
<h1>weft-load report</h1>
<p class="sub" id="subtitle"></p>
<table class="summary" id="summary"></table>
<h2>Requests per second</h2><div id="rps"></div>
<h2>Latency over time</h2><div id="latency"></div>
<h2 id="plan-title">Load in force</h2><div id="plan"></div>
<h2>Latency by percentile</h2><div id="percentiles"></div>
<h2>Status codes and errors</h2><div id="outcomes"></div>
<script id="report-data" type="application/json">)html";

constexpr std::string_view page_tail = R"html(</script>
<script>
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const NS = 'http://www.w3.org/2000/svg';
  const W = 1000, M = {l: 72, r: 24, t: 16, b: 44};

  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(tag, parent, text) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function us(v) {
    if (v === 0) return '0';
    if (v >= 1e6) return (v / 1e6).toPrecision(3) + ' s';
    if (v >= 1e3) return (v / 1e3).toPrecision(3) + ' ms';
    return v.toPrecision(3) + ' \u00b5s';
  }
  function num(v) {
    if (v >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
    if (v >= 1e4) return (v / 1e3).toPrecision(3) + 'k';
    return String(Math.round(v * 100) / 100);
  }
  // The smallest of 1, 2, 2.5, 5 times a power of ten at or above v.
  function nice(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v * 0.999999) return m * p;
    return 10 * p;
  }
  function max(values) { return values.reduce((a, b) => Math.max(a, b), 0); }

  // An <svg id="chart-NAME"> in the element NAME, with a plotting area.
  function frame(name, height, label) {
    const svg = el('svg', {id: 'chart-' + name, viewBox: '0 0 ' + W + ' ' + height,
                           role: 'img', 'aria-label': label}, document.getElementById(name));
    el('rect', {x: M.l, y: M.t, width: W - M.l - M.r, height: height - M.t - M.b,
                class: 'plot'}, svg);
    return svg;
  }
  function nothing(name, why) {
    const p = html('p', document.getElementById(name), why);
    p.className = 'none';
  }

  // series: [{label, points: [[x, y], ...]}]; x from 0 to xMax, y from 0.
  // xTicks: [[x, text], ...]; yFormat: text of a y value.
  function lineChart(name, label, series, xMax, xTicks, xTitle, yFormat) {
    const H = 240, svg = frame(name, H, label);
    const yMax = nice(max(series.flatMap(s => s.points.map(p => p[1]))));
    const X = x => M.l + (W - M.l - M.r) * x / xMax;
    const Y = y => H - M.b - (H - M.t - M.b) * y / yMax;
    for (let i = 0; i <= 5; i++) {
      const v = yMax * i / 5;
      el('line', {x1: M.l, x2: W - M.r, y1: Y(v), y2: Y(v), class: 'grid'}, svg);
      el('text', {x: M.l - 8, y: Y(v) + 4, class: 'tick', 'text-anchor': 'end'}, svg, yFormat(v));
    }
    for (const [x, text] of xTicks) {
      el('line', {x1: X(x), x2: X(x), y1: M.t, y2: H - M.b, class: 'grid'}, svg);
      el('text', {x: X(x), y: H - M.b + 16, class: 'tick',
                  'text-anchor': x >= xMax ? 'end' : 'middle'}, svg, text);
    }
    el('text', {x: (M.l + W - M.r) / 2, y: H - 6, class: 'axis', 'text-anchor': 'middle'}, svg,
       xTitle);
    series.forEach((s, i) => {
      el('polyline', {class: 'line s' + i, 'data-points': s.points.length,
                      points: s.points.map(p => X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1))
                                  .join(' ')}, svg);
      el('rect', {x: M.l + 12 + i * 150, y: M.t + 8, width: 14, height: 4, class: 'f' + i}, svg);
      el('text', {x: M.l + 32 + i * 150, y: M.t + 14, class: 'label'}, svg, s.label);
    });
  }

  // The seconds of the timeline, on an x axis in seconds.
  function timeCharts() {
    const tl = data.timeline || [];
    if (!tl.length) {
      for (const name of ['rps', 'latency', 'plan']) nothing(name, 'No timeline in this report.');
      return;
    }
    const end = Math.max(data.duration_s, tl.length - 1);
    const step = nice(end / 10);
    const ticks = [];
    for (let x = 0; x <= end + 1e-9; x += step) ticks.push([x, num(x) + ' s']);
    const mid = s => s.t + Math.min(1, end - s.t) / 2;
    const len = s => Math.max(1e-3, Math.min(1, end - s.t));
    lineChart('rps', 'Requests per second', [
      {label: 'responses/s', points: tl.map(s => [mid(s), s.requests / len(s)])},
      {label: 'errors/s', points: tl.map(s => [mid(s), s.errors / len(s)])}],
      end, ticks, 'time since the start', num);
    lineChart('latency', 'p50 and p99 latency per second', [
      {label: 'p50', points: tl.filter(s => s.requests).map(s => [mid(s), s.p50_us])},
      {label: 'p99', points: tl.filter(s => s.requests).map(s => [mid(s), s.p99_us])}],
      end, ticks, 'time since the start', us);
    const open = data.rate > 0;
    document.getElementById('plan-title').textContent =
        open ? 'Request rate asked (open model)' : 'Users (closed model)';
    lineChart('plan', open ? 'Rate asked per second' : 'Users per second', [
      {label: open ? 'requests/s asked' : 'users', points: tl.map(s => [mid(s), open ? s.rate : s.users])}],
      end, ticks, 'time since the start', num);
  }

  // The latency at each percentile of the whole run, as HdrHistogram plots
  // it: x = log10(1 / (1 - q)), so 90%, 99%, 99.9% ... are evenly spaced.
  function percentileChart() {
    const h = data.histogram;
    if (!h.count) return nothing('percentiles', 'No responses.');
    const exact = Math.pow(2, h.exact_bits), sub = Math.pow(2, h.sub_bits);
    const middle = i => {
      if (i < exact) return i;
      const k = Math.floor((i - exact) / sub), width = Math.pow(2, h.exact_bits + k - h.sub_bits);
      return Math.pow(2, h.exact_bits + k) + ((i - exact) % sub) * width + width / 2;
    };
    const nines = Math.max(2, Math.ceil(Math.log10(h.count)));
    const X = q => q >= 1 ? nines : Math.min(nines, -Math.log10(1 - q));
    const points = [];
    let seen = 0;
    for (const [index, n] of h.buckets) {
      const v = Math.min(Math.max(middle(index), h.min), h.max) / 1e3;
      points.push([X(seen / h.count), v]);
      seen += n;
      points.push([X(seen / h.count), v]);
    }
    const ticks = [];
    for (let k = 0; k <= nines; k++) {
      ticks.push([k, k === 0 ? '0%' : (100 - Math.pow(10, 2 - k)).toFixed(Math.max(0, k - 2)) + '%']);
    }
    lineChart('percentiles', 'Latency by percentile', [{label: 'latency', points}], nines, ticks,
              'percentile (log scale of 1 / (1 - percentile))', us);
  }

  function outcomesChart() {
    const rows = [];
    for (const [code, n] of Object.entries(data.status)) {
      rows.push([code, n, code < 300 ? 'ok' : code < 500 ? 'warn' : 'err']);
    }
    for (const [kind, n] of Object.entries(data.errors)) if (n > 0) rows.push([kind, n, 'err']);
    if (!rows.length) return nothing('outcomes', 'No responses and no errors.');
    const rowH = 30, H = M.t + rows.length * rowH + 8, svg = frame('outcomes', H, 'Outcomes');
    const top = max(rows.map(r => r[1])), left = 140, right = W - M.r - 90;
    rows.forEach(([label, n, cls], i) => {
      const y = M.t + i * rowH + 6;
      el('text', {x: left - 10, y: y + 14, class: 'label', 'text-anchor': 'end'}, svg, label);
      el('rect', {x: left, y, width: Math.max(2, (right - left) * n / top), height: rowH - 12,
                  class: cls}, svg);
      el('text', {x: right + 8, y: y + 14, class: 'label'}, svg, num(n));
    });
  }

  function summary() {
    document.title = 'weft-load report: ' + data.target;
    document.getElementById('subtitle').textContent =
        data.target + ' \u2014 ' + data.model + ' model, ' + data.connections + ' connections' +
        (data.rate > 0 ? ', ' + num(data.rate) + ' requests/s asked' : '') + ', ' +
        data.workers + ' workers, ' + num(data.duration_s) + ' s';
    const t = document.getElementById('summary');
    const l = data.latency_us;
    const rows = [
      ['Requests', num(data.requests) + ' (' + num(data.rps) + '/s)'],
      ['Errors', data.errors_total ? num(data.errors_total) : 'none'],
      ['Latency', 'mean ' + us(l.mean) + ', p50 ' + us(l.p50) + ', p90 ' + us(l.p90) +
                  ', p99 ' + us(l.p99) + ', p99.9 ' + us(l.p999) + ', max ' + us(l.max)],
      ['Connections opened', num(data.connects)],
      ['Cancelled in flight', num(data.cancelled || 0) +
                              (data.interrupted ? ' (interrupted with Ctrl-C)' : '')]];
    for (const [k, v] of rows) {
      const tr = html('tr', t);
      html('td', tr, k);
      html('td', tr, v);
    }
  }

  summary();
  timeCharts();
  percentileChart();
  outcomesChart();
})();
</script>
</body>
</html>
)html";

}  // namespace

std::string html_report(const report& r) {
  const std::string json =
      to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::string page(page_head);
  page.reserve(page.size() + json.size() + page_tail.size());
  // '<' only occurs inside JSON strings (the target): written as \u003c, no
  // "</script>" there can end the element early.
  for (const char c : json) {
    if (c == '<') {
      page += "\\u003c";
    } else {
      page += c;
    }
  }
  page += page_tail;
  return page;
}

}  // namespace weft::load
