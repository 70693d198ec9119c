// The egress with CONNECT tunnels (TLS peers): bytes intact, counted per member pair, and the pair
// effects (cut, reset, drop, delay) on tunnels dialled either way.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import { closeKind, pattern, sha, sleep, writeAll } from './helpers/net.js';
import { collect, connectVia, fakeMembers, pairOf, readHead, until } from './helpers/egress.js';

/** a tunnel `from` dials to `to`: the dialler's socket and the target member's accepted socket */
async function tunnel(
  m: Awaited<ReturnType<typeof fakeMembers>>['members'],
  from: string,
  to: string,
): Promise<{ client: net.Socket; server: net.Socket }> {
  const { sock, status } = await connectVia(m[from].egressPort, m[to].peerPort);
  if (status !== 200) throw new Error(`CONNECT ${from}→${to} answered ${status}`);
  return { client: sock, server: await m[to].accepted() };
}

t.test('a tunnel carries bytes intact both ways, counted per pair and in the metrics', async (t) => {
  const { egress, metrics, members } = await fakeMembers(t, ['s1', 's2']);
  const { client, server } = await tunnel(members, 's1', 's2');
  const up = pattern(1 << 20, 1);
  const down = pattern(300_000, 2);
  const atServer = collect(server);
  const atClient = collect(client);
  await writeAll(client, up);
  await writeAll(server, down);
  await until(() => atServer.bytes() >= up.length && atClient.bytes() >= down.length);
  t.equal(sha(atServer.data()), sha(up), 's1→s2 bytes intact');
  t.equal(sha(atClient.data()), sha(down), 's2→s1 bytes intact');
  t.equal(pairOf(egress, 's1', 's2')?.bytes, up.length);
  t.equal(pairOf(egress, 's2', 's1')?.bytes, down.length);
  t.equal(pairOf(egress, 's1', 's2')?.tunnels, 1, 'one tunnel s1 dialled to s2');
  const text = await metrics.registry.metrics();
  t.match(text, new RegExp(`etcd_soak_peer_bytes_total\\{from="s1",to="s2"\\} ${up.length}`));
  t.match(text, new RegExp(`etcd_soak_peer_bytes_total\\{from="s2",to="s1"\\} ${down.length}`));
  t.match(text, /etcd_soak_partition_active 0/);
  client.destroy();
  await until(() => pairOf(egress, 's1', 's2')?.tunnels === 0);
});

t.test('a cut s1→s2 stops s1→s2 on tunnels dialled by either; s2→s1 flows; removal restores at once', async (t) => {
  const { egress, members } = await fakeMembers(t, ['s1', 's2']);
  const a = await tunnel(members, 's1', 's2'); // s1→s2 is its request direction
  const b = await tunnel(members, 's2', 's1'); // s1→s2 is its response direction
  const aAtServer = collect(a.server);
  const aAtClient = collect(a.client);
  const bAtServer = collect(b.server);
  const bAtClient = collect(b.client);
  egress.setEffect('s1', 's2', { kind: 'cut', established: 'blackhole' });
  t.same(egress.effects(), [{ from: 's1', to: 's2', effect: { kind: 'cut', established: 'blackhole' } }]);
  const before = pairOf(egress, 's1', 's2')!.bytes;
  a.client.write(pattern(50_000, 3)); // s1 → s2: cut
  b.server.write(pattern(50_000, 4)); // s1 → s2: cut
  a.server.write(pattern(40_000, 5)); // s2 → s1: flows
  b.client.write(pattern(40_000, 6)); // s2 → s1: flows
  await until(() => aAtClient.bytes() === 40_000 && bAtServer.bytes() === 40_000);
  await until(() => pairOf(egress, 's1', 's2')!.blackholed === 100_000);
  await sleep(200);
  t.equal(aAtServer.bytes(), 0, 'nothing reached s2 on the tunnel s1 dialled');
  t.equal(bAtClient.bytes(), 0, 'nothing reached s2 on the tunnel s2 dialled');
  t.equal(pairOf(egress, 's1', 's2')!.bytes, before, '0 bytes delivered s1→s2 while cut');
  t.ok(!a.client.destroyed && !b.client.destroyed, 'blackholed tunnels stay open');

  egress.setEffect('s1', 's2', undefined);
  t.same(egress.effects(), []);
  const marker = Buffer.from('after the heal');
  a.client.write(marker);
  b.server.write(marker);
  await until(() => aAtServer.bytes() === marker.length && bAtClient.bytes() === marker.length);
  t.same(aAtServer.data(), marker, 'blackholed bytes are gone; new ones arrive');
  t.same(bAtClient.data(), marker);
});

t.test('new dials s1→s2 are refused while cut (502) and accepted after; s2→s1 dials are not', async (t) => {
  const { egress, members } = await fakeMembers(t, ['s1', 's2']);
  egress.setEffect('s1', 's2', { kind: 'cut', established: 'blackhole' });
  const refused = await connectVia(members.s1.egressPort, members.s2.peerPort);
  t.equal(refused.status, 502, 'CONNECT s1→s2 answered 502');
  const kind = closeKind(refused.sock);
  refused.sock.resume();
  t.equal(await kind, 'end', 'and closed');
  t.equal(pairOf(egress, 's1', 's2')?.refused, 1);
  const other = await connectVia(members.s2.egressPort, members.s1.peerPort);
  t.equal(other.status, 200, 'CONNECT s2→s1 accepted');
  other.sock.destroy();
  egress.setEffect('s1', 's2', undefined);
  const again = await tunnel(members, 's1', 's2');
  const got = collect(again.server);
  again.client.write('hello');
  await until(() => got.bytes() === 5);
  t.equal(got.data().toString(), 'hello', 'a tunnel dialled after the heal carries data');
  again.client.destroy();
});

t.test('a cut in reset mode resets the tunnels carrying the cut direction and leaves the others', async (t) => {
  const { egress, members } = await fakeMembers(t, ['s1', 's2', 's3']);
  const a = await tunnel(members, 's1', 's2');
  const b = await tunnel(members, 's2', 's1');
  const c = await tunnel(members, 's1', 's3');
  const kinds = Promise.all([closeKind(a.client), closeKind(b.client)]);
  egress.setEffect('s1', 's2', { kind: 'cut', established: 'reset' });
  t.same(await kinds, ['reset', 'reset'], 'both tunnels between s1 and s2 were reset');
  const got = collect(c.server);
  c.client.write('s3 still hears s1');
  await until(() => got.bytes() === 17);
  t.equal(got.data().toString(), 's3 still hears s1');
  t.equal((await connectVia(members.s1.egressPort, members.s2.peerPort)).status, 502, 'new dials refused');
  await until(() => pairOf(egress, 's1', 's2')!.tunnels === 0 && pairOf(egress, 's2', 's1')!.tunnels === 0);
  c.client.destroy();
});

t.test('drop loses some chunks of the pair and delivers the rest; delay holds them', async (t) => {
  const { egress, members } = await fakeMembers(t, ['s1', 's2']);
  const { client, server } = await tunnel(members, 's1', 's2');
  const atServer = collect(server);
  egress.setEffect('s1', 's2', { kind: 'drop', probability: 0.5 });
  for (let i = 0; i < 64; i++) {
    client.write(pattern(4096, i));
    await sleep(2); // separate reads, so separate chunks
  }
  await until(() => {
    const p = pairOf(egress, 's1', 's2')!;
    return p.bytes + p.dropped === 64 * 4096;
  });
  const p = pairOf(egress, 's1', 's2')!;
  t.ok(p.dropped > 0 && p.bytes > 0, `dropped ${p.dropped}, delivered ${p.bytes}`);
  await until(() => atServer.bytes() === p.bytes);

  egress.setEffect('s1', 's2', { kind: 'delay', latency: 150, jitter: 0 });
  const start = performance.now();
  const n = atServer.bytes();
  client.write('late');
  await until(() => atServer.bytes() === n + 4);
  const took = performance.now() - start;
  t.ok(took >= 145, `a chunk held ${took.toFixed(0)} ms by a 150 ms delay`);
  t.throws(() => egress.setEffect('s1', 's2', { kind: 'drop', probability: 2 }), 'an invalid effect throws');
  t.same(egress.effects()[0].effect, { kind: 'delay', latency: 150, jitter: 0 }, 'and changes nothing');
  client.destroy();
});

t.test('a target the resolver does not know is forwarded as-is and counted under "?"', async (t) => {
  const { egress, members } = await fakeMembers(t, ['s1', 's2']);
  const { sock, status } = await connectVia(members.s1.egressPort, members.s2.peerPort, '127.0.0.1');
  t.equal(status, 200);
  const server = await members.s2.accepted();
  const got = collect(server);
  sock.write('via an address');
  await until(() => got.bytes() === 14);
  t.equal(pairOf(egress, 's1', '?')?.bytes, 14);
  sock.destroy();
});

t.test('bytes sent right behind the CONNECT line reach the target first', async (t) => {
  const { egress, members } = await fakeMembers(t, ['s1', 's2']);
  const sock = net.connect({ host: '127.0.0.1', port: members.s1.egressPort });
  sock.on('error', () => {});
  const target = `localhost.:${members.s2.peerPort}`;
  sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nearly bytes`);
  t.match(await readHead(sock), /^HTTP\/1\.1 200/);
  const server = await members.s2.accepted();
  const got = collect(server);
  sock.write(' and later ones');
  await until(() => got.bytes() === 26);
  t.equal(got.data().toString(), 'early bytes and later ones');
  t.equal(pairOf(egress, 's1', 's2')?.bytes, 26);
  sock.destroy();
});
