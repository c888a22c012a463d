/**
 * `node tools/checks/dist/cli/codegen-check.js [root]`: runs the codegen check on the workspace
 * at root (default: the current directory) and exits 1 on any failure.
 * Run it through Nx: `npx nx run @jobkeep/checks:codegen-check`.
 */
import { resolve } from 'node:path';
import { formatReport, runCodegenCheck } from '../codegen-check.js';

const root = resolve(process.argv[2] ?? process.cwd());
const result = runCodegenCheck({ root });
if (result.ok) {
  console.log(formatReport(result));
} else {
  console.error(formatReport(result));
  process.exitCode = 1;
}
