// Finds external programs the black-box tests drive. Missing ones skip those tests with one loud
// line on a developer's machine; under CI=true a missing program fails the run instead.

import { execFileSync } from "node:child_process";

export function hasBinary(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** True when `name` is installed; otherwise says what to install (and throws under CI). */
export function requireBinary(name: string, debianPackage: string): boolean {
  if (hasBinary(name)) return true;
  const line = `${name} not found: install the Debian package ${debianPackage} to run these tests`;
  if (process.env.CI === "true") throw new Error(line);
  console.warn(`SKIPPING: ${line}`);
  return false;
}
