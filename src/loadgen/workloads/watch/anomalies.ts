// While a drop/corrupt fault may garble a watch stream, an anomalous event is re-read on a fresh stream:
// the same anomaly again on a later stream is what etcd has (a write garbled on its way in), not the
// transport's. This remembers each anomaly's first stream.

export class RepeatedAnomalies<Stream> {
  /** `key:rev` (or a gap's id) → the stream on which it first came */
  private readonly first = new Map<string, Stream>();

  /**
   * Whether anomaly `id` already came on an earlier stream (the same again on a fresh one is what etcd
   * has, not the transport's); the first sight is remembered with its stream.
   */
  repeated(id: string, stream: Stream): boolean {
    const first = this.first.get(id);
    if (first && first !== stream) {
      this.first.delete(id);
      return true;
    }
    if (this.first.size > 10000) this.first.clear();
    this.first.set(id, stream);
    return false;
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
