// The live fault state of one direction and of a link's accept path. Connections read these objects
// per chunk, so changes apply at once to open connections. `undefined` = fault not active.
import { BandwidthFault } from './bandwidth.js';
import { CorruptFault } from './corrupt.js';
import { DelayFault } from './delay.js';
import { DropFault } from './drop.js';

export { BandwidthFault, TokenBucket } from './bandwidth.js';
export { CorruptFault } from './corrupt.js';
export { DelayFault } from './delay.js';
export { DropFault } from './drop.js';

export class DirectionFaults {
  delay: DelayFault | undefined;
  /** pause: lossless stall (stop reading, hold at most a chunk) */
  pause = false;
  /** blackhole: read and discard, connection open */
  blackhole = false;
  drop: DropFault | undefined;
  corrupt: CorruptFault | undefined;
  bandwidth: BandwidthFault | undefined;

  /** true when chunks can go straight from read to write */
  get clear(): boolean {
    return !this.delay && !this.pause && !this.blackhole && !this.drop && !this.corrupt && !this.bandwidth;
  }
}

export class AcceptFaults {
  delay: DelayFault | undefined;
  pause = false;
  /** refuse: 'close' = listener closed while active; 'rst' = accept and reset at once */
  refuse: 'close' | 'rst' | undefined;
}
