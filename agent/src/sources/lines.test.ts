import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { readLines } from "./lines.ts";

async function collect(chunks: (string | Buffer)[], maxLength = 10) {
  const stream = new PassThrough();
  for (const c of chunks) stream.write(c);
  stream.end();
  const invalid: string[] = [];
  const lines: string[] = [];
  const signal = new AbortController().signal;
  for await (const line of readLines(stream, {
    signal,
    maxLength,
    onInvalid: (r) => invalid.push(r),
  })) {
    lines.push(line);
  }
  return { lines, invalid };
}

describe("readLines", () => {
  it("splits across chunks, strips CR, keeps a last line without newline", async () => {
    expect(await collect(["ab", "c\r\nde\n", "\nf"])).toEqual({
      lines: ["abc", "de", "", "f"],
      invalid: [],
    });
  });

  it("joins a UTF-8 character split between chunks", async () => {
    const bytes = Buffer.from("é\n");
    expect((await collect([bytes.subarray(0, 1), bytes.subarray(1)])).lines).toEqual(["é"]);
  });

  it("drops an over-long line whole, once, and goes on with the next", async () => {
    const { lines, invalid } = await collect(["0123456789ABC", "DEFGHIJKLMNOP", "QR\nok\n"]);
    expect(lines).toEqual(["ok"]);
    expect(invalid).toEqual(["line longer than 10 characters"]);
  });

  it("ends quietly when aborted while waiting for data", async () => {
    const stream = new PassThrough();
    const controller = new AbortController();
    stream.write("first\n");
    const lines: string[] = [];
    const done = (async () => {
      for await (const line of readLines(stream, { signal: controller.signal, maxLength: 100 })) {
        lines.push(line);
        controller.abort();
      }
    })();
    await expect(done).resolves.toBeUndefined();
    expect(lines).toEqual(["first"]);
    expect(stream.destroyed).toBe(true);
  });
});
