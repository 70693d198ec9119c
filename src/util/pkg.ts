// The package's own root and version, wherever the code runs from (dist/src/... when built, src/...
// under tsx): the nearest directory upwards that holds package.json.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory at or above `from` (a file URL or path; default: this module) with a package.json. */
export function packageRoot(from: string = import.meta.url): string {
  const start = from.startsWith('file:') ? fileURLToPath(from) : from;
  let dir = fs.existsSync(start) && fs.statSync(start).isDirectory() ? start : path.dirname(start);
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

let cached: string | undefined;

/** The version field of the package's package.json. */
export function packageVersion(): string {
  cached ??= String(
    (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version ??
      'unknown',
  );
  return cached;
}
