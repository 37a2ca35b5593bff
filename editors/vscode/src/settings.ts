// Which setting values count, and which executable they name. Kept apart from the `vscode` API
// (the caller passes what `WorkspaceConfiguration.inspect` answers), so that `npm test` checks
// it in plain Node.
//
// The trust model: a workspace's own settings (`.vscode/settings.json`, a `.code-workspace`
// file) come with the repository, so they must not decide where code is sent, which key goes
// with it, or what runs. Those settings (MACHINE_SETTINGS) are `"scope": "machine"` in
// package.json, which makes VS Code drop workspace and folder values, and are read here from
// the user's settings only, whatever VS Code hands over, trusted workspace or not.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The settings the server knows (lsp_fim/config.py, camelCase on the wire). */
export const SERVER_SETTINGS = [
    'model',
    'template',
    'maxTokens',
    'maxGenerateMs',
    'prefixTokens',
    'suffixTokens',
    'contextFileTokens',
    'scopeStop',
    'speculativeDecoding',
    'minConfidence',
    'threads',
    'enabledLanguages',
    'backend',
    'backendUrl',
    'backendModel',
    'apiKeyEnv',
    'exclude',
    'acceptanceStats',
] as const;

/**
 * The settings that decide what runs (the server executable and its arguments, the model file,
 * a template file) or where code and the API key go (the HTTP engine, its key's variable, the
 * files never sent): user (or remote machine) settings only.
 */
export const MACHINE_SETTINGS: readonly string[] = [
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

/** The part of `WorkspaceConfiguration.inspect(key)`'s answer read here. */
export interface Inspected {
    defaultValue?: unknown;
    globalValue?: unknown;
    workspaceValue?: unknown;
    workspaceFolderValue?: unknown;
}

export type Inspect = (key: string) => Inspected | undefined;

export type Settings = Record<string, unknown>;

interface Value {
    value: unknown;
    /** Whether the user set it (rather than the default applying). */
    set: boolean;
}

/**
 * A setting's value: for MACHINE_SETTINGS the user's, else the default (a workspace or folder
 * value is ignored even if VS Code passed it on); for the others the most specific one set.
 */
export function settingValue(key: string, inspected: Inspected | undefined): Value {
    const layers = MACHINE_SETTINGS.includes(key)
        ? [inspected?.globalValue]
        : [inspected?.workspaceFolderValue, inspected?.workspaceValue, inspected?.globalValue];
    const value = layers.find((layer) => layer !== undefined);
    return value === undefined ? { value: inspected?.defaultValue, set: false } : { value, set: true };
}

/**
 * The server settings the user has set, with their values. Unset ones, and ones set to null or
 * an empty string, are left out: the server's default applies.
 */
export function serverSettings(inspect: Inspect): Settings {
    const result: Settings = {};
    for (const key of SERVER_SETTINGS) {
        const { value, set } = settingValue(key, inspect(key));
        if (!set || value === undefined || value === null) {
            continue;
        }
        if (typeof value === 'string' && value.trim() === '') {
            continue;
        }
        result[key] = value;
    }
    return result;
}

/** `lspFim.serverPath` (default `lsp-fim`) and `lspFim.serverArgs`, from user settings. */
export function launchSettings(inspect: Inspect): { configured: string; args: string[] } {
    const serverPath = settingValue('serverPath', inspect('serverPath')).value;
    const serverArgs = settingValue('serverArgs', inspect('serverArgs')).value;
    const configured = (typeof serverPath === 'string' ? serverPath : '').trim() || 'lsp-fim';
    const args = Array.isArray(serverArgs) ? serverArgs.map(String) : [];
    return { configured, args };
}

// ------------------------------------------------------------------------------------------------
// Finding the server executable

/**
 * `~`, `${userHome}` and `${workspaceFolder}`; a relative path is taken from the folder. Without
 * a folder (none open, or a workspace not trusted) a path that needs one names nothing
 * (undefined): an untrusted workspace's own files never become the server.
 */
export function expandPath(value: string, workspaceFolder: string | undefined): string | undefined {
    let result = value.trim();
    const home = os.homedir();
    if (result === '~' || result.startsWith('~/') || result.startsWith('~\\')) {
        result = home + result.slice(1);
    }
    result = result.replace(/\$\{userHome\}/g, home);
    const needsFolder = result.includes('${workspaceFolder}') || (hasSeparator(result) && !path.isAbsolute(result));
    if (!needsFolder) {
        return result;
    }
    if (workspaceFolder === undefined) {
        return undefined;
    }
    result = result.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    return path.isAbsolute(result) ? result : path.join(workspaceFolder, result);
}

export function hasSeparator(command: string): boolean {
    return command.includes('/') || (process.platform === 'win32' && command.includes('\\'));
}

function isExecutableFile(file: string): boolean {
    try {
        if (!fs.statSync(file).isFile()) {
            return false;
        }
        fs.accessSync(file, fs.constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

/**
 * The executable `command` names: a path, or a name looked up in the absolute directories of
 * PATH (a relative entry such as `.` or `node_modules/.bin` would find the workspace's own
 * files); undefined if none.
 */
export function findExecutable(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
    const extensions =
        process.platform === 'win32'
            ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter((ext) => ext !== '')]
            : [''];
    const candidates = hasSeparator(command)
        ? [command]
        : (env.PATH ?? '')
              .split(path.delimiter)
              .filter((dir) => path.isAbsolute(dir))
              .map((dir) => path.join(dir, command));
    for (const candidate of candidates) {
        for (const extension of extensions) {
            if (isExecutableFile(candidate + extension)) {
                return candidate + extension;
            }
        }
    }
    return undefined;
}
