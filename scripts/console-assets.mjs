// Copies the console's stylesheet and script (src/console/assets/) next to
// the compiled console in dist/ during `npm run build`: tsc emits only .js,
// and the server reads its assets relative to its own module.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/console/assets/', import.meta.url), new URL('../dist/console/assets/', import.meta.url), { recursive: true });
console.log('copied src/console/assets to dist/console/assets');
