// Feeds the put workload's operation events to the checker's ledger of puts: what was sent, what was
// acknowledged at which revision, what surely was not applied and what may have been.
import type { Checker } from '../checker.js';
import type { Observer, OpEvent } from '../events.js';

export class LedgerFeed implements Observer {
  readonly name = 'ledger';

  constructor(private readonly checker: Checker) {}

  onOp(e: OpEvent): void {
    if (e.op !== 'put') return;
    switch (e.type) {
      case 'invoke':
        this.checker.registerPut(e.seq, e.key, e.due);
        return;
      case 'ok':
        this.checker.ack(e.seq, e.revision!, e.at);
        return;
      case 'fail':
        this.checker.notSent(e.seq);
        return;
      case 'indeterminate':
        this.checker.indeterminate(e.seq, e.at);
        return;
    }
  }
}
