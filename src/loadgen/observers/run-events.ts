// The run's outward signals, as an observer: each put's final outcome and each violation become the
// runner's 'outcome' and 'violation' events; violations are also counted in the metrics and logged
// (the first thousand, then one in a thousand).
import type { EventEmitter } from 'node:events';
import type { Metrics } from '../../metrics.js';
import type { Logger } from '../../util/log.js';
import type { Observer, OpEvent } from '../events.js';
import type { Violation } from '../verdict.js';

export class RunEvents implements Observer {
  readonly name = 'run-events';
  private logged = 0;

  constructor(
    private readonly emitter: EventEmitter,
    private readonly metrics: Metrics | undefined,
    private readonly logger: Logger,
  ) {}

  onOp(e: OpEvent): void {
    if (e.op !== 'put') return;
    if (e.type === 'ok') this.emitter.emit('outcome', e.seq, 'ok');
    else if (e.type === 'fail') this.emitter.emit('outcome', e.seq, 'failed');
    else if (e.type === 'settled') this.emitter.emit('outcome', e.seq, e.applied ? 'applied' : 'not_applied');
  }

  onViolation(v: Violation): void {
    this.metrics?.watchViolations.inc({ kind: v.kind });
    this.logged++;
    if (this.logged <= 1000 || this.logged % 1000 === 0)
      this.logger.error({ violation: v }, `watch violation: ${v.kind}`);
    this.emitter.emit('violation', v);
  }
}
