// Progress of long work, as events: a service reports them, a front end draws them (the CLI as
// bars on a terminal, nothing elsewhere). A service never writes to a terminal itself.

export interface ProgressEvent {
  /** What is being done: "import", "commit", "save", "load", "export", "index". */
  task: string;
  /** What it is done to: a layer, a file, an image. */
  item?: string;
  /** Units done so far, and in all when known (bytes, unless `unit` says otherwise). */
  done: number;
  total?: number;
  unit?: 'bytes' | 'entries' | 'layers';
  /** The last event of this task and item. */
  finished?: boolean;
}

export type ProgressSink = (e: ProgressEvent) => void;

export const noProgress: ProgressSink = () => {};
