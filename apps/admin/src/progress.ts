import cliProgress from 'cli-progress';

/** A progress bar for a long command: drawn on stderr, and only when stderr is a terminal. */
export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const QUIET: Progress = { update() {}, stop() {} };

/**
 * A bar labelled `label` counting `unit`s, or nothing at all when stderr is not a TTY: a piped or
 * logged run stays quiet, and stdout (where --json goes) is never touched.
 */
export function progressBar(label: string, unit: string): Progress {
  if (!process.stderr.isTTY) return QUIET;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% {value}/{total} ${unit}`, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
