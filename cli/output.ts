/** stdout for results: JSON for scripts (--json), text for people. Messages and errors go to stderr. */
export function printResult(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(data, null, 2) : human()}\n`);
}
