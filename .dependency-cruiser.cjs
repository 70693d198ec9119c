// The layers point one way: cli → wiring (lab) → api → daemon → report → {proxy, loadgen, etcd, cluster} →
// {schema, config} → util; scenario sits between daemon and schema (of the proxy it reads only the fault
// registry). No cycles; src/ never imports test/ or bench/.

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'src-not-to-test-or-bench', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench)/' } },
    {
      name: 'no-upward-to-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-upward-to-lab',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|lab)/' },
      to: { path: '^src/lab/' },
    },
    {
      name: 'no-upward-to-api',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|lab|api)/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'no-upward-to-daemon',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|lab|api|daemon)' },
      to: { path: '^src/daemon(\\.ts$|/)' },
    },
    {
      name: 'engine-parts-apart',
      comment: 'proxy, loadgen, cluster and the etcd control client do not import each other',
      severity: 'error',
      from: { path: '^src/(proxy|loadgen|etcd)/' },
      to: { path: '^src/(proxy|loadgen|etcd|cluster)/', pathNot: '^src/$1/' },
    },
    {
      name: 'cluster-beside-proxy-and-loadgen',
      comment: 'the cluster layer asks members through the etcd control client only',
      severity: 'error',
      from: { path: '^src/cluster/' },
      to: { path: '^src/(proxy|loadgen|metrics\\.ts)' },
    },
    {
      name: 'fault-modules-self-contained',
      comment: 'a fault module knows the live fault state and other modules, not the links and pipes that run it',
      severity: 'error',
      from: { path: '^src/proxy/faults/' },
      to: { path: '^src/proxy/', pathNot: '^src/proxy/faults/' },
    },
    {
      name: 'scenario-between-schema-and-daemon',
      comment:
        'scenario files are parsed and expanded into plans purely: schema, config, util and the fault registry (zod schemas) only',
      severity: 'error',
      from: { path: '^src/scenario/' },
      to: { path: '^src/', pathNot: '^src/(scenario|schema|config|util)/|^src/proxy/faults/' },
    },
    {
      name: 'scenario-used-from-above',
      comment: 'only the daemon and what wires it read scenarios',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(scenario|daemon|lab|cli|api)/|^src/daemon\\.ts$' },
      to: { path: '^src/scenario/' },
    },
    {
      name: 'report-above-the-engine',
      comment: 'the run report (src/report) reads the load run\'s files and types; the engine never imports it',
      severity: 'error',
      from: { path: '^src/(proxy|loadgen|etcd|cluster|schema|config|util)/' },
      to: { path: '^src/report/' },
    },
    {
      name: 'schema-and-util-at-the-bottom',
      severity: 'error',
      from: { path: '^src/(schema|util)/' },
      to: { path: '^src/', pathNot: '^src/(schema|util)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
