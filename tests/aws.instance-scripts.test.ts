// The AWS instance's first-boot files, run or checked here: the certificate script with openssl,
// the Mosquitto config renderer against the committed config, the systemd units with
// systemd-analyze, the CloudWatch agent config against the stack's log groups, and the shell
// syntax of every script.

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../infra/aws/app.ts";
import { INSTANCE_DIR, renderUserData } from "../infra/aws/user-data.ts";
import { requireBinary } from "./support/binaries.ts";
import { tempDir } from "./support/hub-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const script = (name: string) => path.join(INSTANCE_DIR, name);
const dirs: string[] = [];
const fresh = () => {
  const d = tempDir("locus-aws-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function run(file: string, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(file, args, { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

const openssl = (args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });

describe.skipIf(!requireBinary("openssl", "openssl"))("locus-tls.sh self-signed", () => {
  it("makes a CA and a server certificate for the address that verify, and keeps them", () => {
    const dir = fresh();
    expect(run(script("locus-tls.sh"), ["self-signed", dir, "203.0.113.7"]).out).toBe("changed");
    const verify = openssl(["verify", "-CAfile", `${dir}/ca.pem`, `${dir}/fullchain.pem`]);
    expect(verify.trim()).toBe(`${dir}/fullchain.pem: OK`);
    const san = openssl([
      "x509",
      "-in",
      `${dir}/fullchain.pem`,
      "-noout",
      "-ext",
      "subjectAltName",
    ]);
    expect(san).toContain("IP Address:203.0.113.7");
    // The key and its matching certificate: the hub checks the same before it starts.
    const pub = (args: string[]) => openssl([...args, "-pubkey", "-noout"]);
    expect(pub(["x509", "-in", `${dir}/fullchain.pem`])).toBe(
      openssl(["pkey", "-in", `${dir}/privkey.pem`, "-pubout"]),
    );
    expect(fs.statSync(`${dir}/ca.key`).mode & 0o777).toBe(0o600);
    expect(fs.statSync(`${dir}/privkey.pem`).mode & 0o777).toBe(0o640);
    expect(openssl(["x509", "-in", `${dir}/ca.pem`, "-noout", "-ext", "basicConstraints"])).toMatch(
      /CA:TRUE/,
    );

    const before = fs.readFileSync(`${dir}/fullchain.pem`, "utf8");
    expect(run(script("locus-tls.sh"), ["self-signed", dir, "203.0.113.7"]).out).toBe("kept");
    expect(fs.readFileSync(`${dir}/fullchain.pem`, "utf8")).toBe(before);
    expect(run(script("locus-tls.sh"), ["due", dir, "203.0.113.7"]).code).toBe(1);
  });

  it("reissues for a new address under the same CA, so agents keep their CA file", () => {
    const dir = fresh();
    run(script("locus-tls.sh"), ["self-signed", dir, "203.0.113.7"]);
    const ca = fs.readFileSync(`${dir}/ca.pem`, "utf8");
    expect(run(script("locus-tls.sh"), ["due", dir, "locus.example.com"]).code).toBe(0);
    expect(run(script("locus-tls.sh"), ["self-signed", dir, "locus.example.com"]).out).toBe(
      "changed",
    );
    expect(fs.readFileSync(`${dir}/ca.pem`, "utf8")).toBe(ca);
    const san = openssl([
      "x509",
      "-in",
      `${dir}/fullchain.pem`,
      "-noout",
      "-ext",
      "subjectAltName",
    ]);
    expect(san).toContain("DNS:locus.example.com");
    expect(openssl(["verify", "-CAfile", `${dir}/ca.pem`, `${dir}/fullchain.pem`])).toContain("OK");
  });

  it("says what is wrong with its arguments", () => {
    const r = run(script("locus-tls.sh"), ["self-signed", fresh()]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/usage: locus-tls.sh/);
    expect(run(script("locus-tls.sh"), ["acme", fresh(), "x.example.com"]).err).toMatch(
      /acme needs DOMAIN and EMAIL/,
    );
  });
});

describe("mosquitto-conf.sh", () => {
  const committed = path.join(ROOT, "infra/mosquitto/mosquitto.conf");
  const plugin = fs.existsSync("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
    ? "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
    : process.execPath; // any existing file: the renderer only checks that the plugin exists

  it("changes only the plain listener, the plugin path and the directories", () => {
    const out = path.join(fresh(), "mosquitto.conf");
    const r = run(script("mosquitto-conf.sh"), [
      ...[committed, out, plugin, "/etc/locus/mosquitto", "/var/lib/locus/mosquitto"],
      "/etc/locus/tls",
    ]);
    expect(r.code, r.err).toBe(0);
    const before = fs.readFileSync(committed, "utf8").split("\n");
    const after = fs.readFileSync(out, "utf8").split("\n");
    expect(after).toHaveLength(before.length);
    const changed = after.filter((line, i) => line !== before[i]);
    expect(changed).toEqual([
      "listener 1883 127.0.0.1",
      "certfile /etc/locus/tls/fullchain.pem",
      "keyfile /etc/locus/tls/privkey.pem",
      `plugin ${plugin}`,
      "plugin_opt_config_file /var/lib/locus/mosquitto/dynamic-security.json",
      "persistence_location /var/lib/locus/mosquitto/",
    ]);
    // Devices' TLS listener stays on every interface; nothing refers to the container any more.
    expect(after).toContain("listener 8883");
    const settings = after.filter((l) => !l.startsWith("#")).join("\n");
    for (const container of ["/mosquitto/config/", "/mosquitto/data/", "/mosquitto/certs/"]) {
      expect(settings).not.toContain(` ${container}`);
    }
  });

  it("refuses a committed config that lost a line it relies on", () => {
    const dir = fresh();
    const changed = path.join(dir, "changed.conf");
    fs.writeFileSync(
      changed,
      fs.readFileSync(committed, "utf8").replace("allow_anonymous false", "allow_anonymous true"),
    );
    const r = run(script("mosquitto-conf.sh"), [changed, `${dir}/out`, plugin, dir, dir, dir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('has no line "allow_anonymous false"');
    expect(fs.existsSync(`${dir}/out`)).toBe(false);
  });
});

describe.skipIf(!requireBinary("systemd-analyze", "systemd"))("the systemd units", () => {
  it("pass systemd-analyze verify with the checkout where the instance has it", () => {
    // The units name /opt/locus/src, where the instance checks out the repository: here, this
    // checkout, so that every ExecStart must exist and be executable.
    const dir = fresh();
    const units = fs.readdirSync(INSTANCE_DIR).filter((f) => /^locus-.*\.(service|timer)$/.test(f));
    expect(units.sort()).toEqual([
      "locus-hub.service",
      "locus-mosquitto.service",
      "locus-tls-renew.service",
      "locus-tls-renew.timer",
    ]);
    for (const unit of units) {
      const text = fs.readFileSync(path.join(INSTANCE_DIR, unit), "utf8");
      fs.writeFileSync(path.join(dir, unit), text.replaceAll("/opt/locus/src", ROOT));
    }
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...units], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
    expect(r.status).toBe(0);
  });

  it("restart the services on failure and start them at boot", () => {
    for (const unit of ["locus-hub.service", "locus-mosquitto.service"]) {
      const text = fs.readFileSync(path.join(INSTANCE_DIR, unit), "utf8");
      expect(text).toMatch(/^Restart=(always|on-failure)$/m);
      expect(text).toMatch(/^WantedBy=multi-user\.target$/m);
      expect(text).toMatch(/^StandardOutput=append:\/var\/log\/locus\/.*\.log$/m);
    }
  });
});

describe("the CloudWatch agent config", () => {
  it("ships each service's log file to one of the stack's own log groups", () => {
    const config = JSON.parse(fs.readFileSync(script("cloudwatch-agent.json"), "utf8"));
    const files = config.logs.logs_collected.files.collect_list as {
      file_path: string;
      log_group_name: string;
    }[];
    const { app, stack } = buildApp({
      context: { ref: "v1" },
      outdir: fresh(),
      checkout: { remote: "https://git.example.com/l.git", head: null },
    });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, { Type: string; Properties: { LogGroupName?: string } }>;
    };
    const groups = Object.values(template.Resources)
      .filter((r) => r.Type === "AWS::Logs::LogGroup")
      .map((r) => r.Properties.LogGroupName);
    const shipped = files.map((f) =>
      f.log_group_name.replace("@LOG_GROUP_PREFIX@", "/locus/Locus"),
    );
    expect(shipped.sort()).toEqual([...groups].sort());
    // The files the units write are among those shipped.
    for (const unit of ["locus-hub.service", "locus-mosquitto.service"]) {
      const text = fs.readFileSync(path.join(INSTANCE_DIR, unit), "utf8");
      const file = /^StandardOutput=append:(\S+)$/m.exec(text)?.[1];
      expect(files.map((f) => f.file_path)).toContain(file);
    }
    expect(config.metrics.namespace).toBe("Locus");
  });
});

describe("the scripts", () => {
  it("parse in the shell they are written for", () => {
    for (const file of fs.readdirSync(INSTANCE_DIR).filter((f) => f.endsWith(".sh"))) {
      const text = fs.readFileSync(script(file), "utf8");
      const shell = text.startsWith("#!/bin/bash") ? "bash" : "sh";
      expect(text.split("\n")[0], file).toMatch(/^#!\/bin\/(ba)?sh$/);
      const r = spawnSync(shell, ["-n", script(file)], { encoding: "utf8" });
      expect(r.stderr, file).toBe("");
      expect(fs.statSync(script(file)).mode & 0o111, `${file} is executable`).not.toBe(0);
    }
    const rendered = path.join(fresh(), "user-data");
    fs.writeFileSync(
      rendered,
      renderUserData({
        ...Object.fromEntries(
          [
            "LOCUS_STACK",
            "LOCUS_REGION",
            "LOCUS_REPOSITORY",
            "LOCUS_REF",
            "LOCUS_DOMAIN",
            "LOCUS_ACME_EMAIL",
            "LOCUS_PUBLIC_IP",
            "LOCUS_DB_SECRET_ARN",
            "LOCUS_API_TOKEN_SECRET_ARN",
            "LOCUS_MQTT_SECRET_ARN",
            "LOCUS_CA_PARAMETER",
            "LOCUS_LOG_GROUP_PREFIX",
          ].map((k) => [k, "x"]),
        ),
        LOCUS_DATABASE: "local",
      } as Parameters<typeof renderUserData>[0]),
    );
    expect(spawnSync("bash", ["-n", rendered], { encoding: "utf8" }).stderr).toBe("");
  });

  it("update.sh refuses a ref that is not a plain git name before touching anything", () => {
    const r = run(script("update.sh"), ["main; reboot"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("usage: update.sh REF");
  });

  it("refuses a settings value that would break out of its quotes", () => {
    expect(() =>
      renderUserData({ LOCUS_DOMAIN: "x'; reboot; '" } as Parameters<typeof renderUserData>[0]),
    ).toThrow(/LOCUS_DOMAIN may not hold a quote/);
  });
});
