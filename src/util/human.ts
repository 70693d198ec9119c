// Durations for people: "0.42ms", "12.3ms", "812ms", "4.9s", "1m5s", "2h3m". Machine output (JSON,
// metrics) keeps plain milliseconds or seconds.
export function humanMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${humanMs(-ms)}`;
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 100) return `${trim(ms.toFixed(1))}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${trim((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

function trim(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** "a 2, c 1": the entries of a tally that are not 0, in their order */
export function nonZeroList(r: Readonly<Record<string, number>>): string {
  return Object.entries(r)
    .filter(([, n]) => n)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
