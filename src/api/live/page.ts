// The live page's HTML (GET /): the layout the page's script (script.ts) fills in. It carries no secret:
// the fault types and whether the API wants a token, nothing else, so it is served without the token.

export interface LivePageConfig {
  /** the API wants a bearer token (the page asks for it) */
  token: boolean;
  /** every fault type and where it applies (direction faults need a direction) */
  faultTypes: { type: string; scope: string; params: string[] }[];
}

/** JSON safe inside a <script> element */
const scriptJson = (x: unknown) => JSON.stringify(x).replace(/</g, '\\u003c');

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:16px 20px;color:#222;background:#fafafa}
header{display:flex;gap:18px;align-items:baseline;flex-wrap:wrap}
h1{font-size:20px;margin:0} h2{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;font-size:12.5px;background:#fff} td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;white-space:nowrap}
th{background:#f0f0f0} td.n{text-align:right;font-variant-numeric:tabular-nums}
.cols{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
.bad{color:#b22;font-weight:600} .ok{color:#1e7e34} .muted{color:#777}
.chip{display:inline-block;background:#fdebd0;border:1px solid #e0b070;border-radius:10px;padding:0 7px;margin:1px 3px 1px 0}
.chip button,.x{border:0;background:none;color:#b22;cursor:pointer;font-weight:700;padding:0 0 0 4px}
.figures span{display:inline-block;margin-right:16px} .figures b{font-size:16px;font-variant-numeric:tabular-nums}
form.row,.row{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin:6px 0}
label{display:flex;flex-direction:column;font-size:12px;color:#555} input,select{font:inherit;padding:2px 4px}
input{width:90px} #fault-more{width:220px} #part-duration,#fault-duration{width:190px}
#msg{min-height:1.4em} #violations{max-height:160px;overflow:auto;margin:0;padding-left:18px;font-size:12.5px}
progress{width:220px;vertical-align:middle} .chart{margin:6px 0 10px}
#token-box{background:#fff3cd;border:1px solid #e0c060;padding:10px;margin:10px 0}
`;

export function livePageHtml(cfg: LivePageConfig): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>etcd-soak live</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/uPlot.min.css">
<style>${STYLE}</style></head>
<body>
<header><h1>etcd-soak · live</h1><span id="conn" class="muted">connecting…</span><span id="leader"></span></header>
<div id="token-box" hidden><form id="token-form" class="row"><label>This daemon wants its API token<input id="token-input" type="password" autocomplete="off" style="width:260px"></label><button type="submit">use it</button><span class="muted">kept in this tab only (sessionStorage)</span></form></div>
<div id="msg"></div>
<div class="cols">
<div><h2>Members</h2><table id="members"><tbody><tr><td class="muted">…</td></tr></tbody></table>
<div class="row"><button id="isolate-leader">isolate the leader</button><button id="heal-all">heal all partitions</button><label>for<input id="part-duration" placeholder="30s (blank: until healed)"></label></div>
<table id="partitions"><tbody></tbody></table></div>
<div><h2>Load</h2><div id="load-state" class="muted">no load</div>
<div class="figures"><span>puts/s <b id="put-rate">–</b></span><span>events/s <b id="event-rate">–</b></span><span>put p99 <b id="put-p99">–</b></span><span>watch p99 <b id="watch-p99">–</b></span><span>in flight <b id="in-flight">–</b></span><span>violations <b id="violation-total">0</b></span></div>
<h2>Scenario</h2><div id="scenario" class="muted">none</div></div>
</div>
<h2>Load over time</h2><div id="latency" class="chart"></div><div id="rates" class="chart"></div>
<h2>Links</h2><table id="links"><tbody></tbody></table>
<h2>Add a fault</h2>
<form id="fault-form" class="row">
<label>on<select id="fault-target"></select></label>
<label>type<select id="fault-type"></select></label>
<label>direction<select id="fault-direction"><option>tx</option><option>rx</option></select></label>
<label>latency<input id="fault-latency" placeholder="200ms"></label>
<label>jitter<input id="fault-jitter" placeholder="0"></label>
<label>probability<input id="fault-probability" placeholder="0.1"></label>
<label>duration<input id="fault-duration" placeholder="30s (blank: until removed)"></label>
<label>more parameters (JSON)<input id="fault-more" placeholder='{"rate": 1024}'></label>
<button id="fault-add" type="submit">add fault</button>
</form>
<h2>Active faults</h2><table id="faults"><tbody></tbody></table>
<h2>Fault windows</h2><table id="windows"><tbody></tbody></table>
<h2>Violations</h2><ul id="violations"><li class="muted">none</li></ul>
<script id="live-config" type="application/json">${scriptJson(cfg)}</script>
<script src="/ui/uPlot.iife.min.js"></script>
<script src="/ui/app.js"></script>
</body></html>
`;
}
