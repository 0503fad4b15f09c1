// A bad command-line flag: one line that names it; the entry point prints it and exits 2. The
// class is the shared flag reader's, so its errors and the simulator's own are one kind.

export { UsageError } from "@locus/protocol/cli";
