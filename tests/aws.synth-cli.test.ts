// `npm run deploy:synth` as a user without an AWS account runs it: no AWS variables, and HOME an
// empty directory, so no ~/.aws credentials or config can be read. It must write the template.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function npm(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 170_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

describe("npm run deploy:synth", () => {
  it("writes the template offline, without credentials or an AWS environment", async () => {
    const home = tempDir("locus-empty-home-");
    const out = tempDir("locus-cdk-out-");
    dirs.push(home, out);
    // Only what a shell needs: no AWS_*, no CDK_DEFAULT_ACCOUNT or CDK_DEFAULT_REGION.
    const env = { PATH: process.env.PATH ?? "", HOME: home, npm_config_update_notifier: "false" };
    const r = await npm(["run", "deploy:synth", "--", "--output", out, "-c", "ref=v1.0.0"], env);
    expect(r.code, r.out).toBe(0);
    const template = JSON.parse(fs.readFileSync(path.join(out, "Locus.template.json"), "utf8"));
    expect(Object.keys(template.Outputs)).toEqual(expect.arrayContaining(["MqttUrl", "ApiUrl"]));
    // Nothing was written to the empty HOME's AWS folder, and no account got into the template.
    expect(fs.existsSync(path.join(home, ".aws"))).toBe(false);
    expect(JSON.stringify(template)).not.toMatch(/\b\d{12}\b/);
  }, 180_000);

  it("stops with one line naming a bad setting", async () => {
    const home = tempDir("locus-empty-home-");
    const out = tempDir("locus-cdk-out-");
    dirs.push(home, out);
    const env = { PATH: process.env.PATH ?? "", HOME: home, npm_config_update_notifier: "false" };
    const r = await npm(
      ["run", "deploy:synth", "--", "--output", out, "-c", "allowedCidrs=0.0.0.0/0,22"],
      env,
    );
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('locus deploy: allowedCidrs: "22" is not an IPv4 CIDR');
  }, 180_000);
});
