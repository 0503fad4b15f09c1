// Builds the CDK app: the settings (settings.ts), the Locus stack, and cdk-nag's AwsSolutions
// checks, which interrupt synthesis on any finding not acknowledged next to its resource.
// Environment-agnostic: no account or region is needed to synthesise, and nothing is looked up.

import path from "node:path";
import { Annotations, App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { type Checkout, readCheckout, readSettings } from "./settings.ts";
import { LocusStack } from "./stack.ts";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

export interface BuildOptions {
  /** CDK context (the same keys as `-c name=value`). */
  context?: Record<string, string>;
  outdir?: string;
  /** The git facts to default repository and ref from; read from the repository when absent. */
  checkout?: Checkout;
}

export function buildApp(options: BuildOptions = {}): { app: App; stack: LocusStack } {
  const app = new App({
    // No AWS::CDK::Metadata resource: nothing about the deployment is reported to AWS.
    analyticsReporting: false,
    ...(options.context ? { context: options.context } : {}),
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  const settings = readSettings((key) => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === null ? undefined : String(value);
  }, options.checkout ?? readCheckout(REPO_ROOT));
  const stack = new LocusStack(app, settings.stackName, {
    settings,
    description:
      "Locus fleet tracking: one EC2 instance with Mosquitto, PostgreSQL/PostGIS and the hub",
  });
  if (settings.repository === null || settings.ref === null) {
    Annotations.of(stack).addWarningV2(
      "locus:repository",
      "No git repository or ref to install: the instance will stop at its first boot. Set -c repository=https://… -c ref=<commit> (docs/aws.md)",
    );
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
