// What a launched member says of itself through its own client port (etcd's HTTP endpoints), and the
// last lines of its log for messages when it fails.
import fs from 'node:fs';

/** Whether the member answers /health with health=true. */
export async function memberHealthy(port: number, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

/** A member's own view through etcd's JSON gateway (ids as decimal strings); undefined when it does not answer. */
export async function memberGatewayStatus(
  port: number,
  timeoutMs: number,
): Promise<{ memberId: string; leader: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
    if (!body.header?.member_id || !body.leader) return undefined;
    return { memberId: String(body.header.member_id), leader: String(body.leader) };
  } catch {
    return undefined;
  }
}

const LOG_TAIL_LINES = 20;

/** The last `n` lines of a file (reads at most its last 64 KiB); [] when it cannot be read. */
export function tailLines(file: string, n = LOG_TAIL_LINES): string[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, 65536);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    const lines = buf
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    if (len < size) lines.shift(); // the first line may be cut
    return lines.slice(-n);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Log lines indented under a message, each cut at 400 characters. */
export function indentLines(lines: string[]): string {
  return lines.map((l) => `    ${l.length > 400 ? l.slice(0, 399) + '…' : l}`).join('\n');
}
