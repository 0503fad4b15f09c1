// The CDK app's entry point (cdk.json: `tsx main.ts`): synthesises into the CLI's output folder.
import { buildApp } from "./app.ts";
import { SettingError } from "./settings.ts";

try {
  buildApp().app.synth();
} catch (err) {
  if (!(err instanceof SettingError)) throw err;
  console.error(`locus deploy: ${err.message}`);
  process.exit(1);
}
