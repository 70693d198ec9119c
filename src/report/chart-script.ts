// The charts' browser code, shared by the run report (report.html, all the data at once) and the live
// page (GET /, rows appended as the load's intervals arrive): one rendering, two uses. Defines
// `SoakCharts.create(els, series, marks, width)` beside uPlot: a latency chart (put p50/p99/p99.9,
// watch p99, log scale) and a rates chart (puts due, puts not ok, watch events), with the fault windows
// shaded and labelled (an open window reaches the right edge), the leader changes as dashed lines and
// the violations as red ticks on every chart. `series` holds one array per line (t in epoch seconds);
// the charts read it and `marks` again on each update or redraw, so the live page may push into both.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** uPlot's script and style, read from the installed package (inlined by the report, served by the API). */
export function uplotAssets(): { js: string; css: string } {
  const req = createRequire(import.meta.url);
  const dist = path.dirname(req.resolve('uplot/dist/uPlot.iife.min.js'));
  return {
    js: fs.readFileSync(path.join(dist, 'uPlot.iife.min.js'), 'utf8'),
    css: fs.readFileSync(path.join(dist, 'uPlot.min.css'), 'utf8'),
  };
}

export const CHART_SCRIPT = String.raw`
var SoakCharts = (function () {
  var palette = ['rgba(230,126,34,0.20)', 'rgba(142,68,173,0.18)', 'rgba(41,128,185,0.18)', 'rgba(39,174,96,0.18)',
    'rgba(192,57,43,0.16)', 'rgba(127,140,141,0.22)'];
  var kinds = {};
  function colorOf(kind) {
    if (!(kind in kinds)) kinds[kind] = palette[Object.keys(kinds).length % palette.length];
    return kinds[kind];
  }
  // a label right of x, or ending at the plot's right edge when it would not fit (a mark near "now")
  function label(ctx, text, x, y, right) {
    ctx.fillText(text, Math.max(0, Math.min(x, right - ctx.measureText(text).width - 2)), y);
  }
  // the fault windows shaded and labelled, leader changes as dashed lines, violations as red ticks
  function marksHook(marks) {
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, left = u.bbox.left, right = left + u.bbox.width;
      var px = function (ms) { return u.valToPos(ms / 1000, 'x', true); };
      var dpr = window.devicePixelRatio || 1;
      ctx.save();
      ctx.font = (11 * dpr) + 'px sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      marks.windows.forEach(function (w, i) {
        var x0 = Math.max(left, px(w.startMs)), x1 = w.endMs == null ? right : Math.min(right, px(w.endMs));
        if (x1 < left || x0 > right) return;
        ctx.fillStyle = colorOf(w.kind);
        ctx.fillRect(x0, top, Math.max(x1 - x0, 2 * dpr), h);
        ctx.fillStyle = '#333';
        label(ctx, w.kind + ' ' + w.target, x0 + 3 * dpr, top + (12 + 12 * (i % 3)) * dpr, right);
      });
      ctx.setLineDash([4 * dpr, 3 * dpr]);
      ctx.strokeStyle = '#1f4e9c';
      ctx.fillStyle = '#1f4e9c';
      marks.leaders.forEach(function (l) {
        var x = px(l.at);
        if (x < left || x > right) return;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
        label(ctx, 'leader ' + (l.leader || 'none') + ' (term ' + l.term + ')', x + 3 * dpr, top + h - 6 * dpr, right);
      });
      ctx.setLineDash([]);
      ctx.fillStyle = '#c0392b';
      marks.violations.forEach(function (v) {
        var x = px(v.at);
        if (x < left || x > right) return;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x - 4 * dpr, top - 7 * dpr); ctx.lineTo(x + 4 * dpr, top - 7 * dpr);
        ctx.closePath(); ctx.fill();
      });
      ctx.restore();
    };
  }
  var ms = function (v) { return v == null ? '-' : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + ' ms'; };
  var msValue = function (u, v) { return ms(v); };
  function create(els, s, marks, width) {
    function chart(el, title, series, yLabel, log) {
      var opts = {
        title: title, width: width, height: 280,
        scales: { x: { time: true }, y: log ? { distr: 3 } : {} },
        axes: [{}, { label: yLabel, size: 70 }],
        series: [{}].concat(series),
        hooks: { draw: [marksHook(marks)] },
        padding: [18, 12, 0, 0],
      };
      return new uPlot(opts, [[]], el);
    }
    var latency = chart(els.latency, 'latency (put: due → ok; watch: put due → event)', [
      { label: 'put p50', stroke: '#27ae60', value: msValue },
      { label: 'put p99', stroke: '#e67e22', width: 2, value: msValue },
      { label: 'put p99.9', stroke: '#c0392b', value: msValue },
      { label: 'watch p99', stroke: '#2980b9', dash: [6, 3], value: msValue },
    ], 'ms', true);
    var rates = chart(els.rates, 'rates per second', [
      { label: 'puts due', stroke: '#34495e' },
      { label: 'puts not ok', stroke: '#c0392b', fill: 'rgba(192,57,43,0.15)' },
      { label: 'watch events', stroke: '#2980b9' },
    ], 'per second', false);
    function update() {
      latency.setData([s.t, s.putP50, s.putP99, s.putP999, s.watchP99]);
      rates.setData([s.t, s.puts, s.notOk, s.events]);
    }
    update();
    return {
      /** the series changed: read it again (and the marks) */
      update: update,
      /** only the marks changed */
      redraw: function () { latency.redraw(false, false); rates.redraw(false, false); },
      setWidth: function (w) { latency.setSize({ width: w, height: 280 }); rates.setSize({ width: w, height: 280 }); },
    };
  }
  return { create: create };
})();
`;
