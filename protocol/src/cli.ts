// Command-line flags for every Locus program (agent, simulator, hub): `node:util.parseArgs` reads
// them, and one set of messages names the flag that is wrong. A separate entry point
// (`@locus/protocol/cli`), so the wire protocol itself stays free of Node built-ins.

import { parseArgs } from "node:util";

/** A bad command line: one line that names the flag; the program prints it and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface FlagSpec {
  /** Flags that take a value: `--name VALUE` or `--name=VALUE`. */
  values: readonly string[];
  /** Flags that take none. `--help` and `--version` are always known. */
  switches: readonly string[];
  /** Words allowed as the first argument, such as the agent's `status`. */
  commands?: readonly string[];
}

export interface Flags {
  /** The first argument when it is one of the spec's commands. */
  command: string | undefined;
  values: Map<string, string>;
  switches: Set<string>;
}

/**
 * Reads `argv` (the arguments after the program name) against `spec`. Throws a UsageError for
 * the first argument that is wrong: unknown, missing its value, given twice, a value given to a
 * switch, or a stray word.
 */
export function readFlags(argv: readonly string[], spec: FlagSpec): Flags {
  const switchNames = new Set([...spec.switches, "help", "version"]);
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const name of spec.values) options[name] = { type: "string" };
  for (const name of switchNames) options[name] = { type: "boolean" };
  // Not strict: the tokens are checked below, so that each mistake gets its own message.
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const flags: Flags = { command: undefined, values: new Map(), switches: new Set() };
  for (const token of tokens) {
    if (token.kind === "positional") {
      if (token.index === 0 && spec.commands?.includes(token.value)) {
        flags.command = token.value;
        continue;
      }
      throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}`);
    }
    const raw = argv[token.index] as string;
    if (token.kind === "option-terminator" || !token.rawName.startsWith("--")) {
      // Short options and "--" have no meaning here.
      throw new UsageError(`unexpected argument ${JSON.stringify(raw)}`);
    }
    const { name } = token;
    if (switchNames.has(name)) {
      if (token.inlineValue) throw new UsageError(`--${name} takes no value`);
      flags.switches.add(name);
      continue;
    }
    if (!Object.hasOwn(options, name)) throw new UsageError(`unknown option --${name}`);
    // A value that starts with "--" is the next flag: this one's value was left out. (A single
    // "-" may start a value: a west longitude in a box.)
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith("--"))) {
      throw new UsageError(`--${name} needs a value`);
    }
    if (flags.values.has(name)) throw new UsageError(`--${name} is given twice`);
    flags.values.set(name, token.value);
  }
  return flags;
}
