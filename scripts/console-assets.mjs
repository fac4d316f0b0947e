// Copies the console's and the portal's stylesheets (and the console's script)
// from src/*/assets/ next to the compiled code in dist/ during `npm run build`:
// tsc emits only .js, and each server reads its assets relative to its own module.
import { cpSync } from 'node:fs';

for (const part of ['console', 'portal']) {
  cpSync(new URL(`../src/${part}/assets/`, import.meta.url), new URL(`../dist/${part}/assets/`, import.meta.url), { recursive: true });
  console.log(`copied src/${part}/assets to dist/${part}/assets`);
}
