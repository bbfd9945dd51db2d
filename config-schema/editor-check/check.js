// Runs yaml-language-server (the engine of VS Code's YAML extension) on seam documents that
// point at the committed schema with the `# yaml-language-server: $schema=` modeline, and
// checks what an editor user sees: completion of `use` values and config keys, hover text,
// and errors on a misspelled config key. Exits 1 on the first failed expectation.
'use strict';
const fs = require('fs');
const path = require('path');
const { pathToFileURL, fileURLToPath } = require('url');
const { getLanguageService } = require('yaml-language-server/lib/umd/languageservice/yamlLanguageService');
const { TextDocument } = require('vscode-languageserver-textdocument');

const root = path.resolve(__dirname, '..', '..');
const service = getLanguageService({
  schemaRequestService: async (uri) => fs.readFileSync(fileURLToPath(uri), 'utf8'),
  workspaceContext: { resolveRelativePath: (rel, resource) => new URL(rel, resource).toString() },
});
service.configure({ validate: true, hover: true, completion: true, schemas: [] });

let failures = 0;
function expect(ok, what, detail) {
  if (ok) {
    console.log(`ok   ${what}`);
  } else {
    failures += 1;
    console.log(`FAIL ${what}\n     ${JSON.stringify(detail).slice(0, 2000)}`);
  }
}

const modeline = '# yaml-language-server: $schema=../config-schema/seam.schema.json\n';
let version = 0;
function doc(text) {
  version += 1;
  const uri = pathToFileURL(path.join(root, 'examples', `editor-check-${version}.yaml`)).toString();
  return TextDocument.create(uri, 'yaml', 1, text);
}
// The position just after the first occurrence of `marker` (which is removed from the text).
function at(textWithCursor) {
  const offset = textWithCursor.indexOf('|');
  const text = textWithCursor.replace('|', '');
  const d = doc(text);
  return { d, pos: d.positionAt(offset) };
}

async function main() {
  // Completion of `use` values in each section.
  {
    const { d, pos } = at(`${modeline}storages:\n  Local:\n    use: |\n`);
    const list = await service.doComplete(d, pos, false);
    const labels = list.items.map((i) => i.label);
    expect(labels.includes('plugins.memory.storages.MemoryStorage'), 'completes storage `use` values', labels);
    expect(!labels.includes('plugins.respond.actions.RespondAction'), 'offers only storages under `storages`', labels);
  }
  {
    const { d, pos } = at(`${modeline}actions:\n  Hello:\n    use: |\n`);
    const labels = (await service.doComplete(d, pos, false)).items.map((i) => i.label);
    expect(labels.includes('plugins.respond.actions.RespondAction'), 'completes action `use` values', labels);
  }
  // Completion of config keys of the chosen component.
  {
    const { d, pos } = at(`${modeline}storages:\n  Local:\n    use: plugins.memory.storages.MemoryStorage\n    config:\n      |\n`);
    const labels = (await service.doComplete(d, pos, false)).items.map((i) => i.label);
    expect(labels.includes('maxEntries'), 'completes the chosen component\'s config keys', labels);
  }
  // Hover text from the config struct's doc comments.
  {
    const text = `${modeline}storages:\n  Local:\n    use: plugins.memory.storages.MemoryStorage\n    config:\n      maxBytes: 1048576\n`;
    const d = doc(text);
    const hover = await service.doHover(d, d.positionAt(text.indexOf('maxBytes') + 3));
    const shown = hover ? JSON.stringify(hover.contents) : '';
    expect(shown.includes('least recently used'), 'hover shows the config key\'s description', hover);
  }
  // Errors on a misspelled config key, and none on the examples.
  {
    const text = `${modeline}storages:\n  Local:\n    use: plugins.memory.storages.MemoryStorage\n    config:\n      maxEntrys: 10\n`;
    const diagnostics = await service.doValidation(doc(text), false);
    const hit = diagnostics.find((x) => /maxEntrys/.test(x.message) && x.range.start.line === 5);
    expect(Boolean(hit), 'a misspelled config key is an error on its line', diagnostics);
  }
  {
    const text = `${modeline}storages:\n  Local:\n    use: plugins.memory.storages.MemoryStorag\n`;
    const diagnostics = await service.doValidation(doc(text), false);
    expect(diagnostics.some((x) => x.range.start.line === 3), 'an unknown `use` value is an error', diagnostics);
  }
  for (const file of ['examples/quickstart.yaml', 'examples/seam-layout/routes.yaml']) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const d = TextDocument.create(pathToFileURL(path.join(root, file)).toString(), 'yaml', 1, text);
    const diagnostics = await service.doValidation(d, false);
    expect(diagnostics.length === 0, `${file} has no diagnostics`, diagnostics);
  }
  {
    const file = 'examples/broken/seam.yaml';
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const d = TextDocument.create(pathToFileURL(path.join(root, file)).toString(), 'yaml', 1, text);
    const lines = new Set((await service.doValidation(d, false)).map((x) => x.range.start.line + 1));
    for (const line of [6, 8, 14, 16, 28]) {
      expect(lines.has(line), `${file}: the editor flags line ${line}`, [...lines]);
    }
  }
  if (failures > 0) {
    console.log(`${failures} editor check(s) failed`);
    process.exit(1);
  }
  console.log('all editor checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
