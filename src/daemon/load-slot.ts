// The daemon's one load run: start, replace, stop and rate changes, serialized in arrival order so
// parallel API calls never leave two runs (or none half-started); the last run's summary is kept for
// GET /load once it has stopped.
import type { Metrics } from '../metrics.js';
import { LoadRunner, type LoadStatus, type LoadSummary, type LoadRunnerOptions } from '../loadgen/runner.js';
import type { TimelineLine } from '../loadgen/report.js';
import type { LoadProfile } from '../schema/load.js';
import { Conflict, NotFound, Unprocessable } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface LoadSlotDeps {
  metrics: Metrics;
  logger: Logger;
  reportDir?: string | null;
  faultsProvider: LoadRunnerOptions['faultsProvider'];
  integrityFaultsWithin: LoadRunnerOptions['integrityFaultsWithin'];
  onReport?: LoadRunnerOptions['onReport'];
  onInterval(line: TimelineLine): void;
}

export class LoadSlot {
  private load: LoadRunner | undefined;
  private lastSummary: LoadSummary | undefined;
  /** start / replace / stop run one at a time, in arrival order */
  private ops: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: LoadSlotDeps) {}

  get runner(): LoadRunner | undefined {
    return this.load;
  }

  private serialized<T>(op: () => Promise<T>): Promise<T> {
    const next = this.ops.then(op, op);
    this.ops = next.catch(() => undefined);
    return next;
  }

  /** A new run over `endpoints`; 409 while one runs unless `replace` (the running one stops first). */
  start(profile: LoadProfile, endpoints: string[], opts: { replace?: boolean } = {}): Promise<LoadStatus> {
    return this.serialized(async () => {
      const running = this.load;
      if (running && !opts.replace) {
        throw new Conflict(
          `a load is running (run ${running.runId}, ${running.status().state}): stop it first (DELETE /load) or send "replace": true`,
          [{ path: 'replace', message: 'expected true to replace the running load' }],
        );
      }
      if (!endpoints.length)
        throw new Unprocessable(
          'no client endpoints: give "endpoints" (or run a cluster whose members have client links)',
          [{ path: 'endpoints', message: 'required when no member client link exists' }],
        );
      const d = this.deps;
      const runner = new LoadRunner({
        // parsed once, at the edge (the API merges the request's fields over the default profile)
        profile,
        endpoints,
        metrics: d.metrics,
        logger: d.logger,
        reportDir: d.reportDir,
        faultsProvider: d.faultsProvider,
        integrityFaultsWithin: d.integrityFaultsWithin,
        onReport: d.onReport,
      });
      if (running) await this.stopCurrent('replaced');
      this.load = runner;
      runner.once('done', (s: LoadSummary) => (this.lastSummary = s));
      runner.on('interval', (line: TimelineLine) => d.onInterval(line));
      runner.start().catch((err) => d.logger.error({ err }, 'load failed to start'));
      return runner.status();
    });
  }

  status(): LoadStatus | { state: 'idle'; last?: LoadSummary } {
    return this.load ? this.load.status() : { state: 'idle', last: this.lastSummary };
  }

  setRate(rate: number): LoadStatus {
    if (!this.load || this.load.status().state === 'stopped') throw new NotFound('no load is running');
    this.load.setRate(rate);
    return this.load.status();
  }

  /** Stops the running load → its summary (NotFound when none runs). */
  stop(reason: string): Promise<LoadSummary> {
    return this.serialized(async () => {
      if (!this.load) throw new NotFound('no load is running');
      return this.stopCurrent(reason);
    });
  }

  private async stopCurrent(reason: string): Promise<LoadSummary> {
    const r = this.load!;
    this.load = undefined;
    const s = await r.stop(reason);
    this.lastSummary = s;
    return s;
  }
}
