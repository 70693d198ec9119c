import t from 'tap';
import { Metrics } from '../src/metrics.js';
import { parseFaultSpec as fault } from '../src/proxy/faults/registry.js';
import {
  connect,
  echoServer,
  pattern,
  readAll,
  sha,
  sinkServer,
  sleep,
  startLink,
  writeAll,
  close,
} from './helpers/net.js';

t.test('bytes arrive complete and in order, both directions, while delay/pause/bandwidth toggle', async (t) => {
  const echo = await echoServer();
  const metrics = new Metrics({ defaultMetrics: false });
  const link = await startLink({ upstreamPort: echo.port, metrics });
  t.teardown(async () => {
    await link.close();
    await close(echo.server);
  });
  const data = pattern(8 * 1024 * 1024, 7);
  const sock = await connect(link.address().port, { allowHalfOpen: true });
  const received = readAll(sock);
  let stop = false;
  const toggler = (async () => {
    const faults = [
      () => link.addFault(fault({ type: 'delay', direction: 'tx', latency: '3ms', jitter: '2ms' })),
      () => link.addFault(fault({ type: 'pause', direction: 'rx' })),
      () => link.addFault(fault({ type: 'bandwidth', direction: 'tx', rate: 20 * 1024 * 1024 })),
      () =>
        link.addFault(fault({ type: 'delay', direction: 'rx', latency: '2ms', jitter: '2ms', distribution: 'normal' })),
      () => link.addFault(fault({ type: 'pause', direction: 'tx' })),
      () => link.addFault(fault({ type: 'bandwidth', direction: 'rx', rate: 10 * 1024 * 1024 })),
    ];
    let i = 0;
    let toggles = 0;
    while (!stop) {
      const f = faults[i++ % faults.length]();
      await sleep(15);
      link.removeFault(f.id);
      toggles++;
      await sleep(5);
    }
    return toggles;
  })();
  // paced writes so the transfer spans many fault toggles
  for (let off = 0; off < data.length; off += 128 * 1024) {
    await writeAll(sock, data.subarray(off, off + 128 * 1024), 32 * 1024);
    await sleep(2);
  }
  sock.end();
  const got = await received;
  stop = true;
  const toggles = await toggler;
  t.ok(toggles >= 4, `faults toggled ${toggles} times during the transfer`);
  t.equal(got.length, data.length, 'same length');
  t.equal(sha(got), sha(data), 'same bytes in the same order');
  const st = link.stats();
  t.equal(st.tx.forwarded, data.length);
  t.equal(st.rx.forwarded, data.length);
  const text = await metrics.registry.metrics();
  t.match(
    text,
    new RegExp(`etcd_soak_proxy_bytes_total\\{link="test",direction="tx",outcome="forwarded"\\} ${data.length}`),
  );
});

// Self-synchronising 16-byte records: magic, seq, ~seq, magic. Found anywhere in a lossy stream.
function records(n: number): Buffer {
  const b = Buffer.alloc(n * 16);
  for (let i = 0; i < n; i++) {
    b.writeUInt32BE(0xa5c3e1f7, i * 16);
    b.writeUInt32BE(i, i * 16 + 4);
    b.writeUInt32BE(~i >>> 0, i * 16 + 8);
    b.writeUInt32BE(0x5a3c1e8f, i * 16 + 12);
  }
  return b;
}
function scan(b: Buffer): number[] {
  const seqs: number[] = [];
  for (let o = 0; o + 16 <= b.length;) {
    if (b.readUInt32BE(o) === 0xa5c3e1f7 && b.readUInt32BE(o + 12) === 0x5a3c1e8f) {
      const s = b.readUInt32BE(o + 4);
      if (~s >>> 0 === b.readUInt32BE(o + 8)) {
        seqs.push(s);
        o += 16;
        continue;
      }
    }
    o++;
  }
  return seqs;
}

for (const kind of ['drop', 'blackhole'] as const) {
  t.test(`with ${kind} toggled the receiver sees only losses: no duplicate, no reorder`, async (t) => {
    const sink = await sinkServer();
    const link = await startLink({ upstreamPort: sink.port, seed: 7 });
    t.teardown(async () => {
      await link.close();
      await close(sink.server);
    });
    const n = 200000;
    const data = records(n);
    const sock = await connect(link.address().port);
    const arrived = sink.next();
    let stop = false;
    const toggler = (async () => {
      while (!stop) {
        const f = link.addFault(
          fault(
            kind === 'drop'
              ? { type: 'drop', direction: 'tx', probability: 0.3 }
              : { type: 'blackhole', direction: 'tx' },
          ),
        );
        await sleep(3);
        link.removeFault(f.id);
        await sleep(3);
      }
    })();
    // small writes with pauses so the faults land mid-stream
    for (let off = 0; off < data.length; off += 16 * 1000) {
      if (!sock.write(data.subarray(off, off + 16 * 1000))) await new Promise((r) => sock.once('drain', r));
      await sleep(1);
    }
    sock.end();
    const { data: parts } = await arrived;
    stop = true;
    await toggler;
    const seqs = scan(Buffer.concat(parts));
    let ordered = true;
    for (let i = 1; i < seqs.length; i++) if (seqs[i] <= seqs[i - 1]) ordered = false;
    t.ok(ordered, 'sequence numbers strictly increase (no duplicate, no reorder)');
    t.ok(seqs.length < n, `some records were lost (${n - seqs.length} of ${n})`);
    t.ok(seqs.length > 0, 'some records arrived');
    const st = link.stats();
    t.ok(kind === 'drop' ? st.tx.dropped > 0 : st.tx.blackholed > 0, 'loss counted');
    t.equal(st.tx.read, data.length, 'every byte was read');
  });
}
