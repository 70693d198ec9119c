// How a launched member is made to send every peer dial through its own egress listener (a forward
// proxy): etcd 3.4's peer transport honours the standard proxy environment, and Go skips a proxy only
// for the literal host `localhost` and loopback IP literals. So the peer URLs of such a cluster name
// `localhost.` (trailing dot: the same address, not a literal Go exempts), and each member gets the
// proxy variable for its peer scheme, with every other proxy setting of ours removed.

/** the peer URL host of a cluster whose members dial through egress listeners */
export const EGRESS_PEER_HOST = 'localhost.';

/** Proxy settings that would change where (or whether) a member's dials go through its egress. */
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY'];

/**
 * The environment of a member that dials its peers through the egress listener on 127.0.0.1:`port`:
 * HTTPS_PROXY for TLS peers (each dial a CONNECT), HTTP_PROXY for plain peers (absolute-form requests).
 * NO_PROXY (any case) would let `localhost.` bypass the proxy; REQUEST_METHOD makes Go ignore
 * HTTP_PROXY (its CGI guard): both are dropped.
 */
export function egressEnv(base: NodeJS.ProcessEnv, peerTls: boolean, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (PROXY_VARS.includes(k.toUpperCase()) || k === 'REQUEST_METHOD') continue;
    env[k] = v;
  }
  env[peerTls ? 'HTTPS_PROXY' : 'HTTP_PROXY'] = `http://127.0.0.1:${port}`;
  return env;
}
