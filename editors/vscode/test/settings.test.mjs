// The extension's settings follow the server's (lsp_fim/config.py): every server setting is
// contributed as lspFim.<name> with the server's default, and is in the list of settings sent.
// The server's settings are its declarations, as `python -m lsp_fim.config --json` gives them
// (the repository's .venv Python, else python3; LSP_FIM_PYTHON overrides; no package needed).
// Run: npm test (in editors/vscode); needs no VS Code and no model.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXTENSION_DIR = path.resolve(HERE, '..');
const REPOSITORY = path.resolve(EXTENSION_DIR, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'package.json'), 'utf8'));
const properties = manifest.contributes.configuration.properties;
const EXTENSION_ONLY = ['serverPath', 'serverArgs', 'completionMenu'];

/** The Python that runs the server's code here. */
function python() {
    const venv = path.join(REPOSITORY, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
    return process.env.LSP_FIM_PYTHON || (fs.existsSync(venv) ? venv : 'python3');
}

/** The server's settings: wire name -> { default, reloadsEngine, choices }. */
function serverFields() {
    const json = execFileSync(python(), ['-m', 'lsp_fim.config', '--json'], { cwd: REPOSITORY, encoding: 'utf8' });
    return new Map(JSON.parse(json).map((setting) => [setting.name, setting]));
}

const SERVER = serverFields();

/** SERVER_SETTINGS in src/settings.ts. */
function sentSettings() {
    const source = fs.readFileSync(path.join(EXTENSION_DIR, 'src', 'settings.ts'), 'utf8');
    const list = /export const SERVER_SETTINGS = \[([^\]]*)\]/.exec(source);
    assert.ok(list, 'SERVER_SETTINGS not found in src/settings.ts');
    return [...list[1].matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]);
}

test('every server setting is contributed and sent, and nothing else is sent', () => {
    const server = [...SERVER.keys()].sort();
    assert.ok(server.length >= 10, `too few settings from lsp_fim.config: ${server}`);
    const contributed = Object.keys(properties)
        .map((key) => key.replace(/^lspFim\./, ''))
        .filter((key) => !EXTENSION_ONLY.includes(key))
        .sort();
    assert.deepEqual(contributed, server);
    assert.deepEqual([...sentSettings()].sort(), server);
});

test('contributed defaults are the server defaults (empty/null where the server decides)', () => {
    for (const [name, { default: serverDefault }] of SERVER) {
        const contributed = properties[`lspFim.${name}`].default;
        if (serverDefault === null || (Array.isArray(serverDefault) && serverDefault.length === 0)) {
            // None, none at all (exclude) or computed at start (threads: the core count): the
            // extension leaves it to the server.
            assert.ok(contributed === null || contributed === '', `${name}: ${JSON.stringify(contributed)}`);
        } else {
            assert.deepEqual(contributed, serverDefault, name);
        }
    }
});

test('the choices of a setting are the server\'s', () => {
    for (const [name, { choices }] of SERVER) {
        if (choices !== null) {
            assert.deepEqual(properties[`lspFim.${name}`].enum, choices, name);
        }
    }
    assert.ok(SERVER.get('backend').choices, 'backend has no choices in lsp_fim.config');
});
