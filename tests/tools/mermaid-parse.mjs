// Parses mermaid diagrams with mermaid's own parser, headless under Node.
//   node tests/tools/mermaid-parse.mjs TOOLS_DIR < blocks.json
// stdin: a JSON array of {"name": …, "source": …}. Prints one line per block ("ok NAME" or
// "error NAME: message") and exits 1 if any block fails to parse.
//
// mermaid.parse sanitizes labels with DOMPurify, which needs a window: jsdom gives it one,
// installed with mermaid by tests/tools/install-mermaid into TOOLS_DIR/node_modules.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const tools = resolve(process.argv[2]);
const require = createRequire(join(tools, 'package.json'));
const { JSDOM } = require('jsdom');
const dom = new JSDOM('');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(require.resolve('mermaid')).href);

const blocks = JSON.parse(readFileSync(0, 'utf8'));
let failed = 0;
for (const { name, source } of blocks) {
  try {
    const result = await mermaid.parse(source);
    console.log(`ok ${name} (${result.diagramType})`);
  } catch (e) {
    failed += 1;
    console.log(`error ${name}: ${String(e.message ?? e).replaceAll('\n', ' | ')}`);
  }
}
process.exit(failed ? 1 : 0);
