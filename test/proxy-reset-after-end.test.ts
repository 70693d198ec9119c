// A reset right after a forwarded FIN (end() then RST in the same tick) must still close the socket: a
// handle that never closes leaks its fd and makes the process spin at exit.
import t from 'tap';
import net from 'node:net';
import { resetSocket } from '../src/proxy/connection.js';
import { close, listen } from './helpers/net.js';

t.test('end() then resetSocket() in the same tick closes the socket', async (t) => {
  let closed = 0;
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.on('close', () => closed++);
    s.end();
    resetSocket(s);
  });
  const port = await listen(server);
  const clients: net.Socket[] = [];
  for (let i = 0; i < 5; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    c.on('end', () => c.end());
    clients.push(c);
  }
  for (let i = 0; i < 40 && closed < 5; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(closed, 5, "every server socket emitted 'close'");
  for (const c of clients) c.destroy();
  await close(server);
});
