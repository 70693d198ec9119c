// The live page's controls (part of GET /ui/app.js, in the same function scope as script.ts's core):
// the tables read from the JSON routes (members, links, faults, partitions, load, scenarios), the fault
// form (POST /links/:name/faults for one link, POST /faults for members and roles), a remove button per
// fault, and the partition buttons (isolate a member or the leader, heal one or all).
export const CONTROLS_SCRIPT = String.raw`
  var bytes = function (n) {
    var u = ['B', 'KiB', 'MiB', 'GiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  };
  var hms = function (ms) { return new Date(ms).toISOString().slice(11, 19); };
  var shown = {};
  // a table is rewritten only when it changed (a button under the pointer stays the same element)
  function table(id, head, rows, empty) {
    var html = '<thead><tr>' + head.map(function (h) { return '<th>' + h + '</th>'; }).join('') + '</tr></thead><tbody>' +
      (rows.length ? rows.join('') : '<tr><td class="muted" colspan="' + head.length + '">' + empty + '</td></tr>') + '</tbody>';
    if (shown[id] === html) return;
    shown[id] = html;
    $(id).innerHTML = html;
  }
  var td = function (x, cls) { return '<td' + (cls ? ' class="' + cls + '"' : '') + '>' + x + '</td>'; };
  function faultText(f) {
    var s = f.spec || {}, parts = [esc(f.type)];
    if (s.direction) parts.push(esc(s.direction));
    if (s.latency) parts.push(s.latency + 'ms');
    if (s.probability) parts.push('p=' + s.probability);
    return parts.join(' ');
  }

  function renderMembers(rows) {
    table('members', ['member', 'state', 'up', 'leader', 'revision', 'term', 'partitioned', ''], rows.map(function (m) {
      var p = m.partition || { cutTo: [], partitions: [] };
      return '<tr data-member="' + esc(m.name) + '">' + td(esc(m.name)) + td(esc(m.state || (m.ok ? 'serving' : '–'))) +
        td(m.ok ? '<span class="ok">up</span>' : '<span class="bad">down</span>') + td(m.isLeader ? '<b>leader</b>' : '') +
        td(m.revision == null ? '–' : m.revision, 'n') + td(m.raftTerm == null ? '–' : m.raftTerm, 'n') +
        td(p.cutTo.length ? 'from ' + esc(p.cutTo.join(', ')) : '') +
        td('<button data-isolate="' + esc(m.name) + '">isolate</button>') + '</tr>';
    }), 'no members');
  }
  function renderLinks(links, faults) {
    table('links', ['link', 'kind', 'member', 'listen → upstream', 'connections', 'tx', 'rx', 'active faults'], links.map(function (l) {
      var chips = faults.filter(function (f) { return f.links.indexOf(l.name) >= 0; }).map(function (f) {
        return '<span class="chip">' + faultText(f) + '<button class="x" title="remove" data-remove-fault="' + esc(f.id) + '">×</button></span>';
      }).join('');
      return '<tr data-link="' + esc(l.name) + '">' + td(esc(l.name)) + td(esc(l.kind || '')) + td(esc(l.member || '')) +
        td(esc(l.listen) + ' → ' + esc(l.upstream)) + td(l.connections + ' <span class="muted">(' + l.connectionsTotal + ')</span>', 'n') +
        td(bytes(l.tx.forwarded), 'n') + td(bytes(l.rx.forwarded), 'n') + td(chips) + '</tr>';
    }), 'no links');
  }
  function renderFaults(faults) {
    table('faults', ['id', 'fault', 'links', 'expires', ''], faults.map(function (f) {
      return '<tr data-fault="' + esc(f.id) + '">' + td(esc(f.id)) + td(faultText(f)) + td(esc(f.links.join(', '))) +
        td(f.expiresAt ? esc(f.expiresAt.slice(11, 19)) : 'until removed') +
        td('<button data-remove-fault="' + esc(f.id) + '">remove</button>') + '</tr>';
    }), 'no fault');
  }
  function renderPartitions(parts) {
    table('partitions', ['partition', 'cut', 'expires', ''], parts.map(function (p) {
      return '<tr data-partition="' + esc(p.id) + '">' + td(esc(p.id)) + td(esc(p.summary)) +
        td(p.expiresAt ? esc(p.expiresAt.slice(11, 19)) : 'until healed') +
        td('<button data-heal="' + esc(p.id) + '">heal</button>') + '</tr>';
    }), 'no partition');
  }
  function renderLoad(l) {
    var el = $('load-state');
    if (!l || l.state === 'idle') { el.textContent = 'no load running' + (l && l.last ? ' (last run ' + l.last.runId + ': ' + l.last.reason + ')' : ''); return; }
    el.textContent = l.state + ' · run ' + l.runId + ' · ' + Math.round(l.elapsed) + ' s · target ' + l.rates.target + ' puts/s · ' +
      l.profile.watchers + ' watchers';
    el.className = '';
  }
  function renderScenario(list) {
    var el = $('scenario');
    var s = list.filter(function (x) { return x.state === 'running'; })[0] || list[list.length - 1];
    if (!s) { el.textContent = 'none'; el.className = 'muted'; return; }
    el.className = '';
    el.innerHTML = '<b>' + esc(s.name) + '</b> ' + esc(s.state) + ' · ' + s.elapsed + ' s · steps ' + s.steps.applied + '/' +
      s.steps.planned + (s.steps.failed ? ' <span class="bad">(' + s.steps.failed + ' failed)</span>' : '') +
      ' <progress max="' + (s.steps.planned || 1) + '" value="' + s.steps.applied + '"></progress>' +
      (s.active.length ? '<br>active: ' + s.active.map(function (w) { return esc(w.kind + ' ' + w.target); }).join(', ') : '');
  }
  function renderWindows() {
    var ws = marks.windows.slice().reverse().slice(0, 30);
    table('windows', ['kind', 'target', 'start', 'duration', 'scenario step'], ws.map(function (w) {
      var open = w.endMs == null;
      return '<tr' + (open ? ' class="bad"' : '') + '>' + td(esc(w.kind)) + td(esc(w.target)) + td(hms(w.startMs)) +
        td(open ? 'active' : ((w.endMs - w.startMs) / 1000).toFixed(1) + ' s', 'n') + td(esc(w.step || '')) + '</tr>';
    }), 'no fault window yet');
  }

  // the fault form: the target choices follow the links and members; the inputs follow the type
  var types = {};
  cfg.faultTypes.forEach(function (t) { types[t.type] = t; });
  $('fault-type').innerHTML = cfg.faultTypes.map(function (t) { return '<option>' + esc(t.type) + '</option>'; }).join('');
  $('fault-type').value = types.delay ? 'delay' : cfg.faultTypes[0].type;
  var PARAM_INPUTS = { latency: 'fault-latency', jitter: 'fault-jitter', probability: 'fault-probability' };
  function fitForm() {
    var t = types[$('fault-type').value];
    $('fault-direction').parentNode.hidden = t.scope !== 'direction';
    for (var p in PARAM_INPUTS) $(PARAM_INPUTS[p]).parentNode.hidden = t.params.indexOf(p) < 0;
  }
  $('fault-type').addEventListener('change', fitForm);
  fitForm();
  var targetKey = '';
  function renderTargets(links, members) {
    var opts = links.map(function (l) { return ['link ' + l.name, JSON.stringify({ link: l.name })]; });
    if (members.length)
      opts = opts.concat([
        ['leader (client links)', JSON.stringify({ role: 'leader', kind: 'client' })],
        ['leader (peer links)', JSON.stringify({ role: 'leader', kind: 'peer' })],
        ['followers (all links)', JSON.stringify({ role: 'follower' })],
      ]).concat(members.map(function (m) { return ['member ' + m.name + ' (all links)', JSON.stringify({ members: [m.name] })]; }));
    var key = JSON.stringify(opts);
    if (key === targetKey) return;
    targetKey = key;
    var sel = $('fault-target'), was = sel.value;
    sel.innerHTML = opts.map(function (o) { return '<option value="' + esc(o[1]) + '">' + esc(o[0]) + '</option>'; }).join('');
    if (was && opts.some(function (o) { return o[1] === was; })) sel.value = was;
  }
  // "200" is milliseconds, "200ms" or "1.5s" a Go duration: both as the API takes them
  var durationOf = function (v) { return /^\d+(\.\d+)?$/.test(v) ? Number(v) : v; };
  $('fault-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var type = $('fault-type').value, t = types[type], spec = { type: type };
    if (t.scope === 'direction') spec.direction = $('fault-direction').value;
    var val = function (id) { return $(id).value.trim(); };
    if (t.params.indexOf('latency') >= 0 && val('fault-latency')) spec.latency = durationOf(val('fault-latency'));
    if (t.params.indexOf('jitter') >= 0 && val('fault-jitter')) spec.jitter = durationOf(val('fault-jitter'));
    if (t.params.indexOf('probability') >= 0 && val('fault-probability')) spec.probability = Number(val('fault-probability'));
    if (val('fault-duration')) spec.duration = durationOf(val('fault-duration'));
    if (val('fault-more')) {
      try { Object.assign(spec, JSON.parse(val('fault-more'))); } catch (err) { return say('more parameters: not JSON (' + err.message + ')', true); }
    }
    var target = JSON.parse($('fault-target').value || 'null');
    if (!target) return say('no link to put a fault on', true);
    var req = target.link
      ? api('POST', '/links/' + encodeURIComponent(target.link) + '/faults', spec)
      : api('POST', '/faults', { target: target, fault: spec });
    req.then(function (f) { say('added ' + faultText(f) + ' (' + f.id + ')'); refresh(); })
      .catch(function (err) { say(err.message, true); });
  });

  // the buttons in the tables, and the partition buttons
  var partDuration = function () { var v = $('part-duration').value.trim(); return v ? durationOf(v) : undefined; };
  function act(p, done) { p.then(function (x) { say(done(x)); refresh(); }).catch(function (err) { say(err.message, true); }); }
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('button');
    if (!b) return;
    if (b.dataset.removeFault) act(api('DELETE', '/faults/' + encodeURIComponent(b.dataset.removeFault)), function () { return 'removed ' + b.dataset.removeFault; });
    else if (b.dataset.heal) act(api('DELETE', '/partitions/' + encodeURIComponent(b.dataset.heal)), function () { return 'healed ' + b.dataset.heal; });
    else if (b.dataset.isolate || b.id === 'isolate-leader')
      act(api('POST', '/partitions', { isolate: b.dataset.isolate || 'leader', duration: partDuration() }), function (p) { return 'partition ' + p.id + ': ' + p.summary; });
    else if (b.id === 'heal-all') act(api('DELETE', '/partitions'), function (x) { return 'healed ' + x.healed; });
  });

  // the state the JSON routes answer whole: every 2 s, and after each action or window edge
  var refreshing = false, members = [];
  function refresh() {
    if (refreshing || asking) return;
    refreshing = true;
    var quiet = function (p, fallback) { return p.catch(function (err) { say(err.message, true); return fallback; }); };
    quiet(api('GET', '/members'), { members: [] })
      .then(function (m) {
        members = m.members;
        // GET /cluster asks each member: only when there are members to ask
        return Promise.all([
          members.length ? quiet(api('GET', '/cluster'), null) : Promise.resolve(null),
          quiet(api('GET', '/links'), []), quiet(api('GET', '/faults'), []), quiet(api('GET', '/partitions'), []),
          quiet(api('GET', '/load'), null), quiet(api('GET', '/scenarios'), []),
        ]);
      })
      .then(function (r) {
        if (r[0]) renderMembers(r[0]); else if (!members.length) renderMembers([]);
        renderLinks(r[1], r[2]);
        renderFaults(r[2]);
        renderPartitions(r[3]);
        renderLoad(r[4]);
        renderScenario(r[5]);
        renderTargets(r[1], members);
      })
      .catch(function (err) { say(err.message, true); })
      .then(function () { refreshing = false; });
  }
`;
