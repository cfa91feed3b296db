import { readdirSync, readFileSync } from 'node:fs';

/** Linux's view of processes, which the stack reads to tell its own processes from others'. */
export function processIds(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

export function readProcFile(pid: number, file: string): string | undefined {
  return readTextFile(`/proc/${pid}/${file}`);
}

/** The file's text, or undefined when it is gone or not ours to read. */
export function readTextFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
