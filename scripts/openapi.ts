// Writes config/openapi.json from the served document (npm run openapi).
import fs from 'node:fs';
import { openapiDocument } from '../src/api/openapi.js';
fs.writeFileSync(new URL('../config/openapi.json', import.meta.url), JSON.stringify(openapiDocument(), null, 2) + '\n');
