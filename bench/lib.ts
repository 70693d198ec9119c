// Shared by the benchmarks.
import fs from 'node:fs';
import path from 'node:path';

/** The package root, whether a bench runs from bench/ (tsx) or dist/bench/ (built). */
export { packageRoot } from '../src/util/pkg.js';

/** Writes a result file under bench/results/ (or `out`) and returns its path. */
export function writeResults(root: string, name: string, data: unknown, out?: string): string {
  const file =
    out ?? path.join(root, 'bench/results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 2));
  return file;
}

/** The p-th percentile (nearest rank, 0-100) of the first `n` values of `xs`. */
export function percentile(xs: ArrayLike<number>, p: number, n = xs.length): number {
  const s = Array.from({ length: n }, (_, i) => xs[i]).sort((a, b) => a - b);
  return s[Math.min(n - 1, Math.floor((p / 100) * n))];
}
