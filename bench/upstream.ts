// The loopback server every path of bench:proxy talks to, in a process of its own so that the direct
// path and the proxied ones cross the same process boundary (an echo inside the bench's own event loop
// answers in microseconds no real peer can). The first byte picks the mode: 'S' + 8-byte length = sink
// (answers "ok" once that many bytes arrived; no half-close needed, Go's proxy closes both sides on
// FIN), 'E' = echo. Prints its port as a JSON line, and exits when its stdin closes.
import net from 'node:net';

const server = net.createServer({ allowHalfOpen: true }, (s) => {
  s.setNoDelay(true);
  s.once('data', (first: Buffer) => {
    if (first[0] === 0x45) {
      if (first.length > 1) s.write(first.subarray(1));
      s.pipe(s);
      return;
    }
    const want = Number(first.readBigUInt64BE(1));
    let n = first.length - 9;
    const check = () => {
      if (n >= want) s.end('ok');
    };
    s.on('data', (b: Buffer) => {
      n += b.length;
      check();
    });
    check();
  });
  s.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
