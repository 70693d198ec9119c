// The report page's own script (runs in the browser beside the inlined uPlot): the charts of the 1-s
// series, with the fault windows shaded and labelled and the leader changes and violations marked on
// every chart. Reads the page's data from <script id="run-data">.
export const PAGE_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('run-data').textContent);
  var s = data.series;
  var palette = ['rgba(230,126,34,0.20)', 'rgba(142,68,173,0.18)', 'rgba(41,128,185,0.18)', 'rgba(39,174,96,0.18)',
    'rgba(192,57,43,0.16)', 'rgba(127,140,141,0.22)'];
  var kinds = {};
  function colorOf(kind) {
    if (!(kind in kinds)) kinds[kind] = palette[Object.keys(kinds).length % palette.length];
    return kinds[kind];
  }
  // the fault windows shaded and labelled, leader changes as dashed lines, violations as red ticks
  function marks(u) {
    var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, left = u.bbox.left, right = left + u.bbox.width;
    var px = function (ms) { return u.valToPos(ms / 1000, 'x', true); };
    var dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.font = (11 * dpr) + 'px sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    data.windows.forEach(function (w, i) {
      var x0 = Math.max(left, px(w.startMs)), x1 = Math.min(right, px(w.endMs));
      if (x1 < left || x0 > right) return;
      ctx.fillStyle = colorOf(w.kind);
      ctx.fillRect(x0, top, Math.max(x1 - x0, 2 * dpr), h);
      ctx.fillStyle = '#333';
      ctx.fillText(w.kind + ' ' + w.target, x0 + 3 * dpr, top + (12 + 12 * (i % 3)) * dpr);
    });
    ctx.setLineDash([4 * dpr, 3 * dpr]);
    ctx.strokeStyle = '#1f4e9c';
    ctx.fillStyle = '#1f4e9c';
    data.leaders.forEach(function (l) {
      var x = px(l.at);
      if (x < left || x > right) return;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
      ctx.fillText('leader ' + (l.leader || 'none') + ' (term ' + l.term + ')', x + 3 * dpr, top + h - 6 * dpr);
    });
    ctx.setLineDash([]);
    ctx.fillStyle = '#c0392b';
    data.violations.forEach(function (v) {
      var x = px(v.at);
      if (x < left || x > right) return;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x - 4 * dpr, top - 7 * dpr); ctx.lineTo(x + 4 * dpr, top - 7 * dpr);
      ctx.closePath(); ctx.fill();
    });
    ctx.restore();
  }
  var width = Math.max(600, Math.min(1400, document.body.clientWidth - 40));
  function chart(el, title, series, values, yLabel, log) {
    var opts = {
      title: title, width: width, height: 280,
      scales: { x: { time: true }, y: log ? { distr: 3 } : {} },
      axes: [{}, { label: yLabel, size: 70 }],
      series: [{}].concat(series),
      hooks: { draw: [marks] },
      padding: [18, 12, 0, 0],
    };
    return new uPlot(opts, [s.t].concat(values), document.getElementById(el));
  }
  var ms = function (v) { return v == null ? '-' : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + ' ms'; };
  chart('latency', 'latency (put: due → ok; watch: put due → event)', [
    { label: 'put p50', stroke: '#27ae60', value: function (u, v) { return ms(v); } },
    { label: 'put p99', stroke: '#e67e22', width: 2, value: function (u, v) { return ms(v); } },
    { label: 'put p99.9', stroke: '#c0392b', value: function (u, v) { return ms(v); } },
    { label: 'watch p99', stroke: '#2980b9', dash: [6, 3], value: function (u, v) { return ms(v); } },
  ], [s.putP50, s.putP99, s.putP999, s.watchP99], 'ms', true);
  chart('rates', 'rates per second', [
    { label: 'puts due', stroke: '#34495e' },
    { label: 'puts not ok', stroke: '#c0392b', fill: 'rgba(192,57,43,0.15)' },
    { label: 'watch events', stroke: '#2980b9' },
  ], [s.puts, s.notOk, s.events], 'per second', false);
})();
`;
