// A bad command-line flag: one line that names it; the entry point prints it and exits 2.

export class UsageError extends Error {
  override name = "UsageError";
}
