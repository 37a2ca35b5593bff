// The extension's settings follow the server's (lsp_fim/config.py): every server setting is
// contributed as lspFim.<name> with the server's default, and is in the list of settings sent.
// Run: npm test (in editors/vscode); needs no VS Code and no model.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXTENSION_DIR = path.resolve(HERE, '..');
const CONFIG_PY = fs.readFileSync(path.resolve(EXTENSION_DIR, '..', '..', 'lsp_fim', 'config.py'), 'utf8');
const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'package.json'), 'utf8'));
const properties = manifest.contributes.configuration.properties;
const EXTENSION_ONLY = ['serverPath', 'serverArgs', 'completionMenu'];

const camel = (name) => name.replace(/_([a-z])/g, (_, letter) => letter.toUpperCase());

/** The server's settings: the fields of `class Settings` with their default text. */
function serverFields() {
    const body = CONFIG_PY.slice(CONFIG_PY.indexOf('class Settings:'));
    const fields = new Map();
    for (const line of body.split('\n').slice(1)) {
        if (/^\S/.test(line)) {
            break;
        }
        const match = /^ {4}([a-z_]+): [^=]+= (.+)$/.exec(line);
        if (match) {
            fields.set(camel(match[1]), match[2].trim());
        }
    }
    return fields;
}

/** SERVER_SETTINGS in src/settings.ts. */
function sentSettings() {
    const source = fs.readFileSync(path.join(EXTENSION_DIR, 'src', 'settings.ts'), 'utf8');
    const list = /export const SERVER_SETTINGS = \[([^\]]*)\]/.exec(source);
    assert.ok(list, 'SERVER_SETTINGS not found in src/settings.ts');
    return [...list[1].matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]);
}

test('every server setting is contributed and sent, and nothing else is sent', () => {
    const server = [...serverFields().keys()].sort();
    assert.ok(server.length >= 10, `parsed too few settings from config.py: ${server}`);
    const contributed = Object.keys(properties)
        .map((key) => key.replace(/^lspFim\./, ''))
        .filter((key) => !EXTENSION_ONLY.includes(key))
        .sort();
    assert.deepEqual(contributed, server);
    assert.deepEqual([...sentSettings()].sort(), server);
});

test('contributed defaults are the server defaults (empty/null where the server decides)', () => {
    for (const [name, pythonDefault] of serverFields()) {
        const contributed = properties[`lspFim.${name}`].default;
        if (/^-?\d+$/.test(pythonDefault)) {
            assert.equal(contributed, Number(pythonDefault), name);
        } else if (pythonDefault === 'True' || pythonDefault === 'False') {
            assert.equal(contributed, pythonDefault === 'True', name);
        } else if (/^"[^"]*"$/.test(pythonDefault)) {
            assert.equal(contributed, pythonDefault.slice(1, -1), name);
        } else {
            // None or computed (threads: the core count): the extension leaves it to the server.
            assert.ok(contributed === null || contributed === '', `${name}: ${JSON.stringify(contributed)}`);
        }
    }
});

test('the backend choices are the server\'s', () => {
    const backends = /HTTP_BACKENDS = \(([^)]*)\)/.exec(CONFIG_PY);
    assert.ok(backends, 'HTTP_BACKENDS not found in config.py');
    const http = [...backends[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(properties['lspFim.backend'].enum, ['llama-cpp', ...http]);
});
