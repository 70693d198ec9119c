// The live page's one script (GET /ui/app.js): the shared chart code (report/chart-script.ts), then,
// in one function scope, the page's core (here: the token, API calls, the event stream, the charts and
// the load's figures) and its controls (script-controls.ts: the tables, the fault form, partitions).
import { CHART_SCRIPT } from '../../report/chart-script.js';
import { CONTROLS_SCRIPT } from './script-controls.js';

const CORE_SCRIPT = String.raw`
  var cfg = JSON.parse(document.getElementById('live-config').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var TOKEN_KEY = 'etcd-soak-token';
  var token = function () { return sessionStorage.getItem(TOKEN_KEY) || ''; };
  var asking = false;
  var esc = function (s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  };
  function conn(text, cls) { var el = $('conn'); el.textContent = text; el.className = cls || 'muted'; }
  function say(text, bad) { var el = $('msg'); el.textContent = text; el.className = bad ? 'bad' : 'ok'; }
  function askToken() {
    if (asking) return;
    asking = true;
    conn('token needed', 'bad');
    $('token-box').hidden = false;
    $('token-input').focus();
  }
  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token-input').value.trim());
    $('token-box').hidden = true;
    asking = false;
    start();
  });

  // every API call: the token (if any) as the bearer header; an error says the API's message and field
  function api(method, path, body) {
    var headers = {};
    if (token()) headers.Authorization = 'Bearer ' + token();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (res) {
        if (res.status === 401) askToken();
        return res.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
          if (!res.ok) {
            var d = data && data.details && data.details[0];
            throw new Error(((data && data.error) || 'HTTP ' + res.status) + (d ? ' (' + d.path + ': ' + d.message + ')' : ''));
          }
          return data;
        });
      });
  }

  // the charts' data: the report's series, one row per interval, and the marks drawn over it
  var MAX_ROWS = 900;
  var series = { t: [], putP50: [], putP99: [], putP999: [], watchP99: [], puts: [], notOk: [], events: [] };
  var marks = { windows: [], leaders: [], violations: [] };
  var violationNotes = [];
  var charts = null;
  function addRow(r) {
    var n = series.t.length;
    if (n && r.t <= series.t[n - 1]) return; // already have it (a snapshot after a resync overlaps the stream)
    var k;
    for (k in series) series[k].push(r[k]);
    var extra = series.t.length - MAX_ROWS;
    if (extra > 0) for (k in series) series[k].splice(0, extra);
  }
  function setWindow(w) {
    for (var i = 0; i < marks.windows.length; i++)
      if (marks.windows[i].id === w.id) { marks.windows[i] = w; return; }
    marks.windows.push(w);
    if (marks.windows.length > 200) marks.windows.splice(0, marks.windows.length - 200);
  }
  function addViolation(v) {
    for (var i = 0; i < violationNotes.length; i++)
      if (violationNotes[i].at === v.at && violationNotes[i].kind === v.kind) return;
    violationNotes.push(v);
    marks.violations.push({ at: v.at, kind: v.kind });
    if (violationNotes.length > 200) { violationNotes.shift(); marks.violations.shift(); }
    var list = $('violations');
    list.innerHTML = violationNotes.slice().reverse().map(function (n) {
      return '<li class="bad">' + esc(new Date(n.at).toISOString().slice(11, 19)) + ' ' + esc(n.kind) + ' +' + n.count +
        ' (' + n.total + ' in the run)</li>';
    }).join('');
  }
  function showLeader(l) {
    $('leader').innerHTML = l && l.leader ? 'leader <b>' + esc(l.leader) + '</b> (term ' + l.term + ')' : '';
  }
  var chartWidth = function () { return Math.max(600, Math.min(1400, document.body.clientWidth - 40)); };
  function applySnapshot(s) {
    for (var k in series) series[k].length = 0;
    s.rows.forEach(addRow);
    marks.windows.length = 0;
    s.windows.forEach(setWindow);
    marks.leaders.length = 0;
    s.leaders.forEach(function (l) { marks.leaders.push(l); });
    s.violations.forEach(addViolation);
    showLeader(s.leader);
    if (!charts) {
      charts = SoakCharts.create({ latency: $('latency'), rates: $('rates') }, series, marks, chartWidth());
      window.addEventListener('resize', function () { charts.setWidth(chartWidth()); });
    } else charts.update();
    renderWindows();
  }
  var ms = function (v) { return v == null ? '–' : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + ' ms'; };
  function figures(line) {
    $('put-rate').textContent = String(line.putRate);
    $('event-rate').textContent = String(line.eventRate);
    $('put-p99').textContent = line.put.count ? ms(line.put.p99) : '–';
    $('watch-p99').textContent = line.watch.count ? ms(line.watch.p99) : '–';
    $('in-flight').textContent = String(line.inFlight);
    var v = line.violations, total = 0;
    for (var k in v) total += v[k];
    var el = $('violation-total');
    el.textContent = String(total);
    el.className = total ? 'bad' : '';
  }

  // the stream: read with fetch so the token goes in the header; SSE blocks are split by a blank line
  var streamGen = 0;
  function handleBlock(block) {
    var ev = 'message', data = '';
    block.split('\n').forEach(function (l) {
      if (l.indexOf('event: ') === 0) ev = l.slice(7);
      else if (l.indexOf('data: ') === 0) data += l.slice(6);
    });
    if (!data) return; // a comment (ping)
    var d = JSON.parse(data);
    if (ev === 'interval') { addRow(d.row); figures(d.line); charts.update(); }
    else if (ev === 'window') { setWindow(d); charts.redraw(); renderWindows(); refresh(); }
    else if (ev === 'leader') {
      marks.leaders.push(d);
      if (marks.leaders.length > 200) marks.leaders.shift();
      showLeader(d);
      charts.redraw();
    }
    else if (ev === 'violation') { addViolation(d); charts.redraw(); }
    else if (ev === 'resync') resync(false);
  }
  function openStream() {
    var gen = ++streamGen;
    var headers = token() ? { Authorization: 'Bearer ' + token() } : {};
    fetch('/events', { headers: headers })
      .then(function (res) {
        if (res.status === 401) { askToken(); gen = -1; return; }
        if (!res.ok || !res.body) throw new Error('GET /events answered ' + res.status);
        conn('live', 'ok');
        var reader = res.body.getReader(), dec = new TextDecoder(), buf = '';
        var read = function () {
          return reader.read().then(function (r) {
            if (r.done) throw new Error('the stream ended');
            if (gen !== streamGen) return reader.cancel();
            buf += dec.decode(r.value, { stream: true });
            var i;
            while ((i = buf.indexOf('\n\n')) >= 0) { handleBlock(buf.slice(0, i)); buf = buf.slice(i + 2); }
            return read();
          });
        };
        return read();
      })
      .catch(function () {
        if (gen !== streamGen) return;
        conn('reconnecting…', 'bad');
        setTimeout(function () { if (gen === streamGen) resync(true); }, 2000);
      });
  }
  // the stream dropped events (this tab was too slow) or broke: start again from GET /live
  function resync(reopen) {
    api('GET', '/live')
      .then(function (s) { applySnapshot(s); if (reopen) openStream(); })
      .catch(function (err) { say(err.message, true); setTimeout(function () { resync(reopen); }, 3000); });
  }
  var polling = null;
  function start() {
    if (cfg.token && !token()) return askToken();
    api('GET', '/live')
      .then(function (s) {
        applySnapshot(s);
        openStream();
        refresh();
        if (!polling) polling = setInterval(refresh, 2000);
      })
      .catch(function (err) { say(err.message, true); });
  }
`;

export const LIVE_SCRIPT = `${CHART_SCRIPT}
(function () {
${CORE_SCRIPT}
${CONTROLS_SCRIPT}
  // for scripts and tests driving the page: how many intervals the charts hold
  window.soakLive = { rows: function () { return series.t.length; } };
  start();
})();
`;
