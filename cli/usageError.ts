/**
 * The command line asks for something impossible (a malformed option, options that exclude each other),
 * found by the CLI itself before any request. Commander reports its own parse errors; this is for the
 * checks that span several options or read files. Exit code 2.
 */
export class UsageError extends Error {}
