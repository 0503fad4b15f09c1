// The AWS deployment's template, synthesised in-process with cdk-nag's checks on: what is open to
// the internet, IMDSv2, encryption, the instance type and image, secrets referenced and never
// embedded, the role's permissions, backups and outputs, for the default stack and its variants.
// A snapshot of the default template makes every change to it show up in review.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { describe, expect, it } from "vitest";
import { buildApp } from "../infra/aws/app.ts";
import { readSettings, SettingError } from "../infra/aws/settings.ts";
import { AMI_PARAMETERS } from "../infra/aws/stack.ts";

const CHECKOUT = { remote: "https://git.example.com/locus.git", head: null };
const BASE = { ref: "v1.0.0" };

function synth(context: Record<string, string> = {}): { template: Template; json: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-cdk-"));
  try {
    const { app, stack } = buildApp({
      context: { ...BASE, ...context },
      outdir,
      checkout: CHECKOUT,
    });
    const assembly = app.synth();
    const json = fs.readFileSync(
      path.join(assembly.directory, assembly.getStackByName(stack.stackName).templateFile),
      "utf8",
    );
    return { template: Template.fromJSON(JSON.parse(json)), json };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
const resources = (t: Template) => t.toJSON().Resources as Resources;

/** Every ingress rule: inline in security groups and standalone. */
function ingressRules(t: Template): Record<string, unknown>[] {
  const rules: Record<string, unknown>[] = [];
  for (const r of Object.values(resources(t))) {
    if (r.Type === "AWS::EC2::SecurityGroup") {
      rules.push(...((r.Properties?.SecurityGroupIngress as Record<string, unknown>[]) ?? []));
    }
    if (r.Type === "AWS::EC2::SecurityGroupIngress") rules.push(r.Properties ?? {});
  }
  return rules;
}

/** The user data as text, with each CloudFormation reference written as <Ref:Id> or <Att:Id.X>. */
function userData(t: Template): string {
  const [instance] = Object.values(t.findResources("AWS::EC2::Instance"));
  if (instance === undefined) throw new Error("no instance in the template");
  const props = instance.Properties as { UserData: { "Fn::Base64": unknown } };
  const encoded = props.UserData["Fn::Base64"];
  const flat = (v: unknown): string => {
    if (typeof v === "string") return v;
    const o = v as Record<string, unknown>;
    if ("Fn::Join" in o) return (o["Fn::Join"] as [string, unknown[]])[1].map(flat).join("");
    if ("Ref" in o) return `<Ref:${o.Ref}>`;
    if ("Fn::GetAtt" in o) return `<Att:${(o["Fn::GetAtt"] as string[]).join(".")}>`;
    throw new Error(`unexpected ${JSON.stringify(v)}`);
  };
  return flat(encoded);
}

const SESSION_AND_METRICS = new Set([
  "ssm:UpdateInstanceInformation",
  "ssmmessages:CreateControlChannel",
  "ssmmessages:CreateDataChannel",
  "ssmmessages:OpenControlChannel",
  "ssmmessages:OpenDataChannel",
  "cloudwatch:PutMetricData",
]);

describe("the default stack", () => {
  const { template, json } = synth();

  it("opens exactly 8883 and 443 to the internet, and nothing else to anyone", () => {
    const rules = ingressRules(template);
    const open = rules.map((r) => `${r.CidrIp}:${r.FromPort}-${r.ToPort}/${r.IpProtocol}`).sort();
    expect(open).toEqual(["0.0.0.0/0:443-443/tcp", "0.0.0.0/0:8883-8883/tcp"]);
    for (const port of [22, 1883, 3000, 5432]) {
      expect(json).not.toMatch(new RegExp(`"(FromPort|ToPort)":\\s*${port}\\b`));
    }
  });

  it("has no NAT gateway and one instance of the default type with Debian's image", () => {
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.resourceCountIs("AWS::EC2::Instance", 1);
    template.hasResourceProperties("AWS::EC2::Instance", { InstanceType: "t3.micro" });
    const params = template.toJSON().Parameters as Record<string, { Default?: string }>;
    expect(Object.values(params).map((p) => p.Default)).toContain(AMI_PARAMETERS.x86_64);
  });

  it("requires IMDSv2 and encrypts the instance's volume", () => {
    template.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: "required" } },
    });
    template.hasResourceProperties("AWS::EC2::Instance", {
      BlockDeviceMappings: [
        { DeviceName: "/dev/xvda", Ebs: { Encrypted: true, VolumeType: "gp3" } },
      ],
    });
    for (const r of Object.values(resources(template))) {
      for (const m of (r.Properties?.BlockDeviceMappings as { Ebs?: { Encrypted?: boolean } }[]) ??
        []) {
        expect(m.Ebs?.Encrypted).toBe(true);
      }
    }
  });

  it("generates the secrets in Secrets Manager and only references them in user data", () => {
    const secrets = template.findResources("AWS::SecretsManager::Secret");
    expect(Object.keys(secrets)).toHaveLength(3);
    for (const s of Object.values(secrets)) {
      expect(s.Properties.GenerateSecretString).toBeDefined();
      expect(s.Properties.SecretString).toBeUndefined();
    }
    expect(json).not.toContain('"SecretString"');
    // No dynamic reference that would resolve a secret into a property either.
    expect(json).not.toContain("{{resolve:secretsmanager");
    const text = userData(template);
    for (const id of Object.keys(secrets)) expect(text).toContain(`='<Ref:${id}>'`);
    // Every settings line is a name, an address, a ref or an ARN: nothing password-like.
    const settings = text.split("<<'LOCUS_DEPLOY_ENV'\n")[1]?.split("\nLOCUS_DEPLOY_ENV")[0];
    expect(settings).toBeDefined();
    for (const line of settings?.split("\n") ?? []) {
      expect(line).toMatch(/^LOCUS_[A-Z_]+='[^']*'$/);
      expect(line).not.toMatch(/PASSWORD|TOKEN=/);
    }
    // Nothing shaped like a generated secret (a long run of upper and lower case letters and
    // digits) anywhere but the template's own logical ids.
    const t = template.toJSON() as Record<string, Record<string, unknown> | undefined>;
    const ids = new Set(
      ["Resources", "Parameters", "Outputs", "Conditions"].flatMap((k) => Object.keys(t[k] ?? {})),
    );
    const long = (json.match(/[A-Za-z0-9]{24,}/g) ?? []).filter(
      (m) => !ids.has(m) && /\d/.test(m) && /[a-z]/.test(m) && /[A-Z]/.test(m),
    );
    expect(long).toEqual([]);
  });

  it("scopes the role: * resources only for actions AWS offers no resource for", () => {
    const policies = Object.values(resources(template)).filter(
      (r) => r.Type === "AWS::IAM::Policy",
    );
    expect(policies.length).toBeGreaterThan(0);
    for (const p of policies) {
      const doc = p.Properties?.PolicyDocument as { Statement: Record<string, unknown>[] };
      for (const st of doc.Statement) {
        const actions = ([] as string[]).concat(st.Action as string | string[]);
        const res = ([] as unknown[]).concat(st.Resource);
        expect(actions.every((a) => a !== "*" && !a.endsWith(":*"))).toBe(true);
        if (res.includes("*")) {
          expect(actions.every((a) => SESSION_AND_METRICS.has(a))).toBe(true);
        }
        if (actions.includes("cloudwatch:PutMetricData")) {
          expect(st.Condition).toEqual({ StringEquals: { "cloudwatch:namespace": "Locus" } });
        }
        if (actions.includes("secretsmanager:GetSecretValue")) {
          expect(res.every((r) => typeof r === "object" && r !== null && "Ref" in r)).toBe(true);
        }
      }
    }
    // The instance role has no managed policy; only Data Lifecycle Manager's role has AWS's own.
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: "ec2.amazonaws.com" } })],
      }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  it("snapshots the volume daily and keeps the set number", () => {
    template.hasResourceProperties("AWS::DLM::LifecyclePolicy", {
      PolicyDetails: {
        ResourceTypes: ["VOLUME"],
        TargetTags: [{ Key: "locus:snapshots", Value: "Locus" }],
        Schedules: [Match.objectLike({ RetainRule: { Count: 7 } })],
      },
    });
    // The policy finds the volume by the instance's tag, which the volume inherits.
    template.hasResourceProperties("AWS::EC2::Instance", {
      PropagateTagsToVolumeOnCreation: true,
      Tags: Match.arrayWith([{ Key: "locus:snapshots", Value: "Locus" }]),
    });
  });

  it("outputs the MQTT and API URLs and the commands for the token, the CA and a shell", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const name of [
      "MqttUrl",
      "ApiUrl",
      "AdminTokenCommand",
      "CaCertificateCommand",
      "SessionCommand",
    ]) {
      expect(outputs[name], name).toBeDefined();
    }
    expect(JSON.stringify(outputs.MqttUrl?.Value)).toMatch(/mqtts:\/\/.*:8883/);
    expect(JSON.stringify(outputs.ApiUrl?.Value)).toContain("https://");
    expect(JSON.stringify(outputs.AdminTokenCommand?.Value)).toContain(
      "aws secretsmanager get-secret-value",
    );
  });

  it("matches the reviewed template", async () => {
    await expect(`${JSON.stringify(template.toJSON(), null, 2)}\n`).toMatchFileSnapshot(
      "__snapshots__/aws.template.snap",
    );
  });
});

describe("the variants", () => {
  it("runs on Arm with Debian's arm64 image", () => {
    const { template } = synth({ instanceType: "t4g.small" });
    template.hasResourceProperties("AWS::EC2::Instance", { InstanceType: "t4g.small" });
    const params = template.toJSON().Parameters as Record<string, { Default?: string }>;
    expect(Object.values(params).map((p) => p.Default)).toContain(AMI_PARAMETERS.arm64);
  });

  it("uses Amazon RDS with encryption, reachable from the instance only, when asked", () => {
    const { template } = synth({ rds: "true", allowedCidrs: "203.0.113.0/24" });
    template.hasResourceProperties("AWS::RDS::DBInstance", {
      Engine: "postgres",
      StorageEncrypted: true,
      PubliclyAccessible: false,
    });
    const rules = ingressRules(template);
    expect(
      rules
        .filter((r) => r.CidrIp !== undefined)
        .map((r) => `${r.CidrIp}:${r.FromPort}`)
        .sort(),
    ).toEqual(["203.0.113.0/24:443", "203.0.113.0/24:8883"]);
    const db = rules.filter((r) => r.FromPort === 5432);
    expect(db).toHaveLength(1);
    expect(db[0]?.CidrIp).toBeUndefined();
    expect(db[0]?.SourceSecurityGroupId).toBeDefined();
    expect(userData(template)).toContain("LOCUS_DATABASE='rds'");
  });

  it("serves the domain's name with Let's Encrypt when one is set", () => {
    const { template } = synth({ domain: "Locus.Example.com", acmeEmail: "ops@example.com" });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.MqttUrl?.Value).toBe("mqtts://locus.example.com:8883");
    expect(outputs.ApiUrl?.Value).toBe("https://locus.example.com");
    expect(userData(template)).toContain("LOCUS_DOMAIN='locus.example.com'");
  });

  it("refuses a synthesis with a finding cdk-nag reports and nobody acknowledged", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "locus-cdk-"));
    try {
      const { app, stack } = buildApp({ context: BASE, outdir, checkout: CHECKOUT });
      const vpc = stack.node.findChild("Vpc") as ec2.Vpc;
      const open = new ec2.SecurityGroup(stack, "Careless", { vpc });
      open.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22));
      expect(() => app.synth()).toThrow(/ERROR .*\(AwsSolutions\)[\s\S]*AwsSolutions-EC23/);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe("the settings", () => {
  const read = (values: Record<string, string>) =>
    readSettings((k) => values[k], { remote: null, head: "abc123" });

  it("defaults to t3.micro on x86, open to the world, PostgreSQL on the instance", () => {
    const s = read({});
    expect(s).toMatchObject({
      instanceType: "t3.micro",
      architecture: "x86_64",
      allowedCidrs: ["0.0.0.0/0"],
      rds: false,
      domain: null,
      ref: "abc123",
      snapshotRetention: 7,
    });
  });

  it("takes the checkout's origin only where the instance could clone it", () => {
    const from = (remote: string) => readSettings(() => undefined, { remote, head: "abc" });
    expect(from("https://git.example.com/locus.git").repository).toBe(
      "https://git.example.com/locus.git",
    );
    expect(from("git@example.com:team/locus.git").repository).toBe(
      "https://example.com/team/locus.git",
    );
    // A clone of a local checkout (as CI makes): no repository yet, and synthesis goes on.
    expect(from("/work/locus").repository).toBeNull();
    expect(from("file:///work/locus").repository).toBeNull();
    expect(() =>
      readSettings((k) => (k === "repository" ? "/work/locus" : undefined), {
        remote: null,
        head: "abc",
      }),
    ).toThrow(/repository/);
  });

  it("names the setting that is wrong", () => {
    expect(() => read({ allowedCidrs: "10.0.0.0/33" })).toThrow(SettingError);
    expect(() => read({ allowedCidrs: "10.0.0.0/33" })).toThrow(/allowedCidrs/);
    expect(() => read({ instanceType: "t3.micro", architecture: "arm64" })).toThrow(
      /architecture: arm64 does not match t3.micro/,
    );
    expect(() => read({ domain: "locus.example.com" })).toThrow(/acmeEmail/);
    expect(() => read({ rds: "yes" })).toThrow(/rds/);
    expect(() => read({ repository: "git@example.com:x.git; rm -rf /" })).toThrow(/repository/);
    expect(() => read({ ref: "main'; reboot" })).toThrow(/ref/);
    expect(() => read({ snapshotRetention: "0" })).toThrow(/snapshotRetention/);
  });
});
