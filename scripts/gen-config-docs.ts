// Writes docs/config.md from the config schema.
import { writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../src/config/docs.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDocs());
console.log('wrote docs/config.md');
