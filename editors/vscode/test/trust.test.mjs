// A workspace cannot redirect the server: the settings that decide what runs or where code and
// the API key go are machine-scoped in package.json, restricted in untrusted workspaces, and
// read from user settings only by src/settings.ts (compiled to out/ by `npm test`'s pretest),
// even when VS Code hands over a workspace value. Needs no VS Code.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import settingsModule from '../out/settings.js';

const { MACHINE_SETTINGS, expandPath, findExecutable, launchSettings, serverSettings, settingValue } =
    settingsModule;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const manifest = JSON.parse(fs.readFileSync(path.join(HERE, '..', 'package.json'), 'utf8'));
const properties = manifest.contributes.configuration.properties;
const untrusted = manifest.capabilities.untrustedWorkspaces;

// Issue 11: where code goes (backend, backendUrl, backendModel, apiKeyEnv, exclude) and what runs
// (serverPath, serverArgs, model file, template file).
const MUST_BE_USER_ONLY = [
    'serverPath',
    'serverArgs',
    'model',
    'template',
    'backend',
    'backendUrl',
    'backendModel',
    'apiKeyEnv',
    'exclude',
];

/** What a cloned repository's .vscode/settings.json would like. */
const ATTACKER = {
    serverPath: './evil',
    serverArgs: ['--evil'],
    model: 'evil.gguf',
    template: '.vscode/evil.toml',
    backend: 'openai',
    backendUrl: 'https://attacker.example/v1',
    backendModel: 'evil',
    apiKeyEnv: 'AWS_SECRET_ACCESS_KEY',
    exclude: [],
    maxTokens: 7,
};

/** `inspect` as VS Code answers it when the workspace sets every key of ATTACKER. */
function inspectWithWorkspace(user = {}) {
    return (key) => ({
        defaultValue: properties[`lspFim.${key}`]?.default,
        globalValue: user[key],
        workspaceValue: ATTACKER[key],
        workspaceFolderValue: ATTACKER[key],
    });
}

test('the settings that decide what runs or where code goes are user settings only', () => {
    assert.deepEqual([...MACHINE_SETTINGS].sort(), [...MUST_BE_USER_ONLY].sort());
    for (const key of MUST_BE_USER_ONLY) {
        const property = properties[`lspFim.${key}`];
        if (property === undefined) {
            assert.equal(key, 'exclude', `lspFim.${key} is not contributed`);
            continue; // contributed with the server's exclude setting
        }
        assert.ok(
            ['machine', 'application'].includes(property.scope),
            `lspFim.${key} has scope ${property.scope}: a workspace's settings could set it`,
        );
    }
    const machineScoped = Object.entries(properties)
        .filter(([, property]) => ['machine', 'application', 'machine-overridable'].includes(property.scope))
        .map(([key]) => key.replace(/^lspFim\./, ''));
    for (const key of machineScoped) {
        assert.ok(MUST_BE_USER_ONLY.includes(key), `lspFim.${key} is machine-scoped but read from workspaces`);
    }
});

test('untrusted workspaces are supported in a limited way, with those settings restricted', () => {
    assert.equal(untrusted.supported, 'limited');
    assert.ok(untrusted.description.length > 20);
    assert.deepEqual(
        [...untrusted.restrictedConfigurations].sort(),
        MUST_BE_USER_ONLY.map((key) => `lspFim.${key}`).sort(),
    );
});

test('workspace and folder values of those settings are ignored, user values taken', () => {
    for (const key of MUST_BE_USER_ONLY) {
        const inspected = { defaultValue: 'default', workspaceValue: ATTACKER[key], workspaceFolderValue: ATTACKER[key] };
        assert.deepEqual(settingValue(key, inspected), { value: 'default', set: false }, key);
        assert.deepEqual(settingValue(key, { ...inspected, globalValue: 'mine' }), { value: 'mine', set: true }, key);
    }
    // Other settings (limits, languages) may still differ per project.
    assert.deepEqual(settingValue('maxTokens', { defaultValue: 128, globalValue: 64, workspaceValue: 7 }), {
        value: 7,
        set: true,
    });
});

test('a workspace cannot send the code or a key elsewhere', () => {
    assert.deepEqual(serverSettings(inspectWithWorkspace()), { maxTokens: 7 });
    const user = { backend: 'llama-server', backendUrl: 'http://gpu-box:8080', apiKeyEnv: 'VLLM_API_KEY' };
    assert.deepEqual(serverSettings(inspectWithWorkspace(user)), { ...user, maxTokens: 7 });
});

test('a workspace cannot choose the server executable or its arguments', () => {
    assert.deepEqual(launchSettings(inspectWithWorkspace()), { configured: 'lsp-fim', args: [] });
    const user = { serverPath: '/opt/lsp-fim/bin/lsp-fim', serverArgs: ['-v'] };
    assert.deepEqual(launchSettings(inspectWithWorkspace(user)), { configured: user.serverPath, args: ['-v'] });
});

test('without a (trusted) folder a server path inside the workspace names nothing', () => {
    const inFolder = {
        '.venv/bin/lsp-fim': '/work/project/.venv/bin/lsp-fim',
        './lsp-fim': '/work/project/lsp-fim',
        '${workspaceFolder}/.venv/bin/lsp-fim': '/work/project/.venv/bin/lsp-fim',
    };
    for (const [value, expanded] of Object.entries(inFolder)) {
        assert.equal(expandPath(value, undefined), undefined, value);
        assert.equal(expandPath(value, '/work/project'), expanded, value);
    }
    assert.equal(expandPath('~/bin/lsp-fim', undefined), path.join(os.homedir(), 'bin/lsp-fim'));
    assert.equal(expandPath('lsp-fim', undefined), 'lsp-fim');
});

test('relative PATH entries (., node_modules/.bin) are not searched', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsp-fim-trust-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', 'lsp-fim'), '#!/bin/sh\n', { mode: 0o755 });
    const cwd = process.cwd();
    process.chdir(dir);
    t.after(() => process.chdir(cwd));
    assert.equal(findExecutable('lsp-fim', { PATH: ['bin', '.'].join(path.delimiter) }), undefined);
    assert.equal(findExecutable('lsp-fim', { PATH: path.join(dir, 'bin') }), path.join(dir, 'bin', 'lsp-fim'));
});
