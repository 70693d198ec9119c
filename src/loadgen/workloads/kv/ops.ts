// One kv operation on the wire and its record in the history: what was asked (a read, a put, a
// compare-and-set or a delete), what etcd answered, as a LinOp. Pure but for the call itself.
import type { Expect, LinOp, OpType } from '../../lin/history.js';
import type { EtcdWireClient, WireError } from '../../wire/client.js';
import { kvDeleteRange, kvRange, kvTxn, type Compare } from '../../wire/kv.js';

/** the mix: reads 50%, puts 20%, compare-and-set 20% (half on value, half on mod revision), deletes 10% */
export function pickType(r: number): OpType {
  return r < 0.5 ? 'get' : r < 0.7 ? 'put' : r < 0.9 ? 'cas' : 'del';
}

/** What a CAS compares: the state this workload last saw of the key, by value or by mod revision. */
export function expectFrom(last: { value: string | null; rev: number } | undefined, byValue: boolean): Expect {
  if (byValue) return { value: last?.value ?? 'absent' };
  return { modRevision: last && last.value !== null ? last.rev : 'absent' };
}

/** The Txn compare of an expectation (absent: version 0 / mod revision 0). */
export function compareOf(key: Buffer, e: Expect): Compare {
  if ('value' in e)
    return e.value === 'absent' ? { key, target: 'version', value: 0 } : { key, target: 'value', value: e.value };
  return { key, target: 'mod', value: e.modRevision === 'absent' ? 0 : e.modRevision };
}

/** Sends op (invoke already stamped) and fills in its result; never retried. */
export async function perform(
  client: EtcdWireClient,
  op: LinOp,
  key: Buffer,
  opts: { timeoutMs: number; serializable: boolean },
): Promise<void> {
  const timeoutMs = opts.timeoutMs;
  switch (op.type) {
    case 'get': {
      const r = await kvRange(client, key, { timeoutMs, serializable: opts.serializable });
      op.header = r.revision;
      const kv = r.kvs[0];
      op.result = kv ? Buffer.from(kv.value).toString() : null;
      if (kv) op.rev = kv.modRevision;
      return;
    }
    case 'put': {
      const r = await client.put(key, Buffer.from(op.value!), { timeoutMs });
      op.header = op.rev = r.revision;
      return;
    }
    case 'cas': {
      const r = await kvTxn(
        client,
        { compare: [compareOf(key, op.expect!)], success: [{ put: { key, value: op.value! } }] },
        { timeoutMs },
      );
      op.header = r.revision;
      op.result = r.succeeded;
      if (r.succeeded) op.rev = r.revision;
      return;
    }
    case 'del': {
      const r = await kvDeleteRange(client, key, { timeoutMs });
      op.header = r.revision;
      op.result = r.deleted;
      if (r.deleted > 0) op.rev = r.revision;
      return;
    }
  }
}

/** A call that failed: surely not applied when it never left this process, else maybe (a read: no answer). */
export function failedStatus(err: WireError): LinOp['status'] {
  return err.sent === false ? 'fail' : 'indeterminate';
}
