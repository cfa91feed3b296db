import type { Rollout } from '../../common/api/rollouts';
import { progressLines } from './progress';

/** Where a watch writes: process.stdout, or a recorder in tests. */
export interface TextOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  /** The terminal's width, when it is one. */
  readonly columns?: number;
}

/** Shows each progress event of a watched rollout. */
export interface ProgressDisplay {
  show(rollout: Rollout): void;
}

/** `--json`: one JSON object per progress event, a line each, for scripts. */
export class JsonLinesDisplay implements ProgressDisplay {
  constructor(private readonly out: TextOutput) {}

  show(rollout: Rollout): void {
    this.out.write(`${JSON.stringify(rollout)}\n`);
  }
}

/** A terminal: the block of lines is redrawn in place, bars included. */
export class RedrawingDisplay implements ProgressDisplay {
  private drawn: string[] = [];

  constructor(private readonly out: TextOutput) {}

  show(rollout: Rollout): void {
    // A line longer than the terminal wraps onto two rows and the cursor-up count would fall short.
    // A pseudo-terminal without a size reports 0 columns.
    const width = Math.max(20, (this.out.columns || 80) - 1);
    const lines = progressLines(rollout, { bars: true }).map(({ text }) =>
      text.length > width ? `${text.slice(0, width - 1)}…` : text,
    );
    if (lines.join('\n') === this.drawn.join('\n')) return;
    // Cursor up over the previous block, to column 1, clear to the end of the screen, draw again.
    const rewind = this.drawn.length > 0 ? `\x1b[${this.drawn.length}A\r\x1b[0J` : '';
    this.out.write(`${rewind}${lines.join('\n')}\n`);
    this.drawn = lines;
  }
}

/**
 * Not a terminal (a pipe, a CI log): no cursor control, so each line is printed when its text changes
 * and never again otherwise; a log reads as the rollout's story.
 */
export class ChangedLinesDisplay implements ProgressDisplay {
  private readonly printed = new Map<string, string>();

  constructor(private readonly out: TextOutput) {}

  show(rollout: Rollout): void {
    for (const { id, text } of progressLines(rollout, { bars: false })) {
      if (this.printed.get(id) === text) continue;
      this.printed.set(id, text);
      this.out.write(`${text}\n`);
    }
  }
}

export function progressDisplayFor(out: TextOutput, json: boolean): ProgressDisplay {
  if (json) return new JsonLinesDisplay(out);
  return out.isTTY ? new RedrawingDisplay(out) : new ChangedLinesDisplay(out);
}
