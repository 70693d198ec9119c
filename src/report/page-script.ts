// The report page's own script (runs in the browser beside the inlined uPlot and the shared chart code,
// chart-script.ts): reads the page's data from <script id="run-data"> and draws the run's charts once.
import { CHART_SCRIPT } from './chart-script.js';

export const PAGE_SCRIPT =
  CHART_SCRIPT +
  String.raw`
(function () {
  var data = JSON.parse(document.getElementById('run-data').textContent);
  var width = Math.max(600, Math.min(1400, document.body.clientWidth - 40));
  SoakCharts.create(
    { latency: document.getElementById('latency'), rates: document.getElementById('rates') },
    data.series,
    { windows: data.windows, leaders: data.leaders, violations: data.violations },
    width,
  );
})();
`;
