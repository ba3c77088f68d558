#!/usr/bin/env node
// The tidekv CLI. Its code is TypeScript (client/cli), loaded through tsx's
// ESM hook, so no build step is needed: `npx tidekv ...` works from the repo
// and after `npm install`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
const code = await main(process.argv.slice(2));
// Let stdout drain before exiting (large replies piped to another process).
if (process.stdout.writableNeedDrain) await new Promise((resolve) => process.stdout.once("drain", resolve));
process.exit(code);
