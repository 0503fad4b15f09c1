// The workspaces' shape: each package exports files that exist, and the hub stands without the
// simulator and the demo (they use it, never the reverse).

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");
const root = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  workspaces: string[];
};

function manifest(dir: string): {
  name: string;
  version: string;
  exports?: Record<string, string>;
  dependencies?: Record<string, string>;
} {
  return JSON.parse(fs.readFileSync(path.join(ROOT, dir, "package.json"), "utf8"));
}

function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => path.join(ROOT, dir, file));
}

describe("workspaces", () => {
  it.each(root.workspaces)("%s exports only files that exist", (dir) => {
    const { exports = {} } = manifest(dir);
    for (const target of Object.values(exports)) {
      expect(fs.existsSync(path.join(ROOT, dir, target)), `${dir}: ${target}`).toBe(true);
    }
  });

  it("the hub depends on neither the simulator nor the demo, in its manifest or its code", () => {
    const { dependencies = {} } = manifest("hub");
    expect(Object.keys(dependencies)).not.toContain("@locus/simulator");
    expect(Object.keys(dependencies)).not.toContain("@locus/demo");
    for (const file of sources("hub/src")) {
      const text = fs.readFileSync(file, "utf8");
      expect(text, file).not.toMatch(/from "@locus\/(simulator|demo)"/);
      expect(text, file).not.toMatch(/from "(\.\.\/)+(simulator|demo)\//);
    }
  });
});
