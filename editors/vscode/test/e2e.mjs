#!/usr/bin/env node
// End-to-end check of the VS Code extension in a real VS Code (code-server, in headless Chromium):
// installs the .vsix, opens examples/norm.py at the end of its body line ("    r = "), asks for an inline suggestion
// and checks that ghost text appears, that Tab accepts it; then types a new function as a person
// would and checks that ghost text appears by itself, stays while its start is typed, and that
// "accept next word" / "accept next line" take part of it and Tab the rest; that an explicit
// request brings alternatives Alt+] cycles through; that the server log
// shows the answered requests, and that "lsp-fim: Show statistics" works and the server counted
// the suggestions shown and accepted (its acceptance statistics file). Prints one PASS/FAIL line per check and
// "e2e: N passed, M failed"; exit status 0 only when everything passed.
//
//   bash editors/vscode/test/run-e2e.sh        (builds the .vsix first; see test/README.md)
//   node editors/vscode/test/e2e.mjs           (uses the newest editors/vscode/lsp-fim-*.vsix)
//
// Environment: LSP_FIM (server executable, default REPO/.venv/bin/lsp-fim), VSIX, CHROMIUM
// (default /usr/bin/chromium), CODE_SERVER (a code-server executable; default: code-server
// CODE_SERVER_VERSION installed with npm into E2E_CACHE, ~/.cache/lsp-fim-vscode-e2e), E2E_KEEP=1
// keeps the temporary profile. Screenshots and the server log go to editors/vscode/test/output/.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXTENSION_DIR = path.resolve(HERE, '..');
const REPO = path.resolve(EXTENSION_DIR, '..', '..');
const OUTPUT = path.join(HERE, 'output');
const CACHE = process.env.E2E_CACHE ?? path.join(os.homedir(), '.cache', 'lsp-fim-vscode-e2e');
// code-server 4.100.x (VS Code 1.100) is the newest that runs on Node 20; later ones need Node 22+.
const CODE_SERVER_VERSION = process.env.CODE_SERVER_VERSION ?? '4.100.3';
const PLAYWRIGHT_VERSION = '1.65.1';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SERVER = process.env.LSP_FIM ?? path.join(REPO, '.venv', 'bin', 'lsp-fim');
// Typed a key at a time, this long apart (a quick typist), then a pause to read the ghost text.
const TYPING_DELAY_MS = 90;
const NEW_FUNCTION = 'def dot(a: list[float], b: list[float]) -> float:\n';
const ANOTHER_FUNCTION = 'def scaled(v: list[float], k: float) -> list[float]:\n';
const THIRD_FUNCTION = 'def clamp(x: float, low: float, high: float) -> float:\n';
// "Accept next line" has no default key: the test binds one.
const ACCEPT_LINE_KEY = 'Control+Alt+Shift+L';
const CHROMIUM_FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

const results = [];
function check(name, ok, detail = '') {
    results.push({ name, ok });
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
    return ok;
}
function info(message) {
    console.log(`     ${message}`);
}
function finish() {
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    console.log(`e2e: ${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}
function fatal(message) {
    check('set-up', false, message);
    finish();
    process.exit(1);
}

// --- tools ----------------------------------------------------------------------------------

function newestVsix() {
    if (process.env.VSIX) {
        return process.env.VSIX;
    }
    const files = fs
        .readdirSync(EXTENSION_DIR)
        .filter((f) => /^lsp-fim-.*\.vsix$/.test(f))
        .map((f) => path.join(EXTENSION_DIR, f))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    return files[0];
}

function npmInstall(packages, env = {}) {
    fs.mkdirSync(CACHE, { recursive: true });
    if (!fs.existsSync(path.join(CACHE, 'package.json'))) {
        fs.writeFileSync(path.join(CACHE, 'package.json'), '{"name":"lsp-fim-vscode-e2e","private":true}\n');
    }
    info(`installing ${packages.join(' ')} into ${CACHE} (once; code-server builds native modules, minutes)`);
    const run = spawnSync('npm', ['install', '--no-audit', '--no-fund', ...packages], {
        cwd: CACHE,
        stdio: 'inherit',
        env: { ...process.env, ...env },
    });
    if (run.status !== 0) {
        fatal(`npm install ${packages.join(' ')} failed`);
    }
}

// code-server's postinstall runs "npm install" in its lib/vscode, where @vscode/ripgrep downloads
// its binary from GitHub. Offline, a cached download is used instead: seed that cache with a
// tarball of the system's rg (Debian: apt-get install ripgrep), same version line (13.0.0).
function seedRipgrep() {
    const rg = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
    if (!rg || process.arch !== 'x64' || process.platform !== 'linux') {
        return;
    }
    const cache = path.join(os.tmpdir(), 'vscode-ripgrep-cache-1.15.11');
    const asset = path.join(cache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz');
    if (fs.existsSync(asset)) {
        return;
    }
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'rg-'));
    fs.copyFileSync(rg, path.join(staging, 'rg'));
    fs.mkdirSync(cache, { recursive: true });
    spawnSync('tar', ['czf', asset, '-C', staging, 'rg'], { stdio: 'inherit' });
    fs.rmSync(staging, { recursive: true, force: true });
    info(`seeded ${asset} from ${rg}`);
}

function codeServer() {
    if (process.env.CODE_SERVER) {
        return process.env.CODE_SERVER;
    }
    const bin = path.join(CACHE, 'node_modules', '.bin', 'code-server');
    const manifest = path.join(CACHE, 'node_modules', 'code-server', 'package.json');
    const installed = fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
    if (installed !== CODE_SERVER_VERSION || !fs.existsSync(bin)) {
        seedRipgrep();
        // Its postinstall refuses to run as root without unsafe-perm; npm 11 skips the install
        // scripts of dependencies (the native modules it builds) unless allowed; node-pty's
        // runs "npx node-gyp", which must not stop to ask.
        npmInstall([`code-server@${CODE_SERVER_VERSION}`], {
            npm_config_unsafe_perm: 'true',
            npm_config_dangerously_allow_all_scripts: 'true',
            npm_config_yes: 'true',
        });
    }
    return bin;
}

function playwright() {
    const require = createRequire(path.join(CACHE, 'package.json'));
    try {
        return require('playwright-core');
    } catch {
        npmInstall([`playwright-core@${PLAYWRIGHT_VERSION}`]);
        return createRequire(path.join(CACHE, 'package.json'))('playwright-core');
    }
}

function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

async function waitFor(what, probe, timeoutMs, stepMs = 250) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        try {
            last = await probe();
            if (last) {
                return last;
            }
        } catch (error) {
            last = error;
        }
        await new Promise((r) => setTimeout(r, stepMs));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}

// --- the typing flow ------------------------------------------------------------------------

/** The lines on screen of the active editor, top down, without ghost text; and the cursor's. */
function editorLines(page) {
    return page.evaluate(() => {
        const editors = [...document.querySelectorAll('.editor-instance .monaco-editor')];
        const editor = editors.find((e) => e.querySelector('.cursors-layer .cursor')) ?? document.querySelector('.monaco-editor');
        const cursorTop = editor.querySelector('.cursors-layer .cursor')?.style.top;
        const lines = [...editor.querySelectorAll('.view-lines .view-line')].sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
        const text = (line) => {
            const copy = line.cloneNode(true);
            copy.querySelectorAll('[class*="ghost-text"]').forEach((ghost) => ghost.remove());
            return (copy.textContent ?? '').replace(/\u00a0/g, ' ');
        };
        return { lines: lines.map(text), cursor: lines.findIndex((l) => l.style.top === cursorTop) };
    });
}

async function lineAtCursor(page) {
    const { lines, cursor } = await editorLines(page);
    return lines[cursor] ?? '';
}

async function shot(page, name) {
    await page.screenshot({ path: path.join(OUTPUT, name) });
    info(`screenshot: ${path.join(OUTPUT, name)}`);
}

/** Ghost text that comes by itself (no trigger), waited for up to `timeoutMs`. */
function ghostBy(ghostText, timeoutMs) {
    return waitFor('ghost text', async () => (await ghostText()) || undefined, timeoutMs, 200).catch((error) => error);
}

/** Types `text` a key at a time; returns the ghost text that then comes by itself. */
async function typeAndWait(page, ghostText, text, screenshot) {
    await page.keyboard.type(text, { delay: TYPING_DELAY_MS });
    const shown = await ghostBy(ghostText, 60_000);
    await shot(page, screenshot);
    return shown;
}

/**
 * A person's flow: type a new function at the end of the file a key at a time, pause, read the
 * ghost text that came by itself, type its first letters (it stays), take a word (Ctrl+Right)
 * and Tab the rest; then type another function and take its suggestion a line at a time.
 */
async function typingFlow(page, ghostText) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    const shown = await typeAndWait(page, ghostText, NEW_FUNCTION, 'typing-ghost-text.png');
    if (!check('typing: ghost text appears by itself after a pause', typeof shown === 'string', typeof shown === 'string' ? JSON.stringify(shown) : String(shown))) {
        return;
    }

    // Typed-through: the first letters of the suggestion, typed, leave the rest in place.
    const typed = shown.slice(0, Math.min(2, shown.split('\n')[0].length));
    await page.keyboard.type(typed, { delay: TYPING_DELAY_MS });
    const rest = await ghostBy(ghostText, 5_000);
    await shot(page, 'typed-through.png');
    const expected = shown.slice(typed.length).split('\n')[0];
    const kept = typeof rest === 'string' && (expected.startsWith(rest.split('\n')[0]) || rest.startsWith(expected));
    check('typing: typing the start of the ghost text keeps it', typed !== '' && kept, `typed ${JSON.stringify(typed)}, ghost text now ${JSON.stringify(typeof rest === 'string' ? rest : String(rest))}`);
    if (typeof rest !== 'string') {
        return;
    }

    // Ctrl+Right: "accept next word" takes the first word of the ghost text.
    const beforeWord = await lineAtCursor(page);
    await page.keyboard.press('Control+ArrowRight');
    await page.waitForTimeout(500);
    const afterWord = await lineAtCursor(page);
    const word = afterWord.slice(beforeWord.length);
    await shot(page, 'accept-word.png');
    check(
        'typing: Ctrl+Right (accept next word) takes a word of it',
        afterWord.startsWith(beforeWord) && word.length > 0 && rest.startsWith(word) && word.length < rest.length,
        `line ${JSON.stringify(beforeWord)} -> ${JSON.stringify(afterWord)}`,
    );

    // Tab takes the rest.
    const left = await ghostBy(ghostText, 5_000);
    await takeWith(page, 'Tab', left, 'typing-accepted.png', 'typing: Tab accepts the rest');

    // Another function, its suggestion taken a line at a time ("accept next line").
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Tab'); // out of dot()'s body
    const next = await typeAndWait(page, ghostText, ANOTHER_FUNCTION, 'typing-ghost-text-2.png');
    await takeWith(page, ACCEPT_LINE_KEY, next, 'accept-line.png', 'typing: "accept next line" takes its first line');
}

/**
 * Asked for explicitly ("Trigger Inline Suggestion"), a suggestion comes with alternatives, and
 * "Show Next Inline Suggestion" (Alt+], else from the palette) shows another in its place.
 */
async function alternativesFlow(page, ghostText, palette) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Tab'); // out of scaled()'s body
    await page.keyboard.type(THIRD_FUNCTION, { delay: TYPING_DELAY_MS });
    await ghostBy(ghostText, 30_000);
    await page.keyboard.press('Escape'); // what typing brought goes; now ask explicitly
    await palette('Trigger Inline Suggestion');
    const first = await ghostBy(ghostText, 60_000);
    await shot(page, 'explicit-first.png');
    const another = async () => {
        const shown = await ghostText();
        return shown && shown !== first ? shown : undefined;
    };
    await page.keyboard.press('Alt+BracketRight');
    let next = await waitFor('another suggestion', another, 10_000, 200).catch((error) => error);
    if (typeof next !== 'string') {
        await palette('Show Next Inline Suggestion');
        next = await waitFor('another suggestion', another, 20_000, 200).catch((error) => error);
    }
    await shot(page, 'explicit-next.png');
    check(
        'explicit request: "Show Next Inline Suggestion" shows an alternative',
        typeof first === 'string' && typeof next === 'string',
        `${JSON.stringify(typeof first === 'string' ? first : String(first))} -> ${JSON.stringify(typeof next === 'string' ? next : String(next))}`,
    );
}

/**
 * Presses `key` with `ghost` (the ghost text, or the error of waiting for it) shown, and checks
 * that a line on screen is then the cursor's line as it was followed by the first line of
 * `ghost` (as shown: ghostText() trims it), ghost text left out.
 */
async function takeWith(page, key, ghost, screenshot, name) {
    const before = await lineAtCursor(page);
    await page.keyboard.press(key);
    await page.waitForTimeout(500);
    await shot(page, screenshot);
    const first = typeof ghost === 'string' ? ghost.split('\n')[0].trim() : '';
    const { lines } = await editorLines(page);
    const took = first !== '' && lines.some((line) => line.startsWith(before) && line.slice(before.length).trim() === first);
    check(name, took, `ghost text was ${JSON.stringify(typeof ghost === 'string' ? ghost : String(ghost))}`);
}

/** The server's acceptance statistics file counted what the editor reported. */
async function checkAcceptanceFile(statsFile) {
    // Written at most every 5 s behind the reports.
    const python = await waitFor(
        'the acceptance statistics file to count the accepts',
        async () => {
            const tallies = JSON.parse(fs.readFileSync(statsFile, 'utf8')).tallies;
            const row = tallies.find((t) => t.language === 'python');
            return row && row.accepted >= 2 && row.partiallyAccepted >= 1 ? row : undefined;
        },
        20_000,
        500,
    ).catch((error) => error);
    const ok = python && typeof python === 'object' && !(python instanceof Error) && python.shown >= python.accepted;
    check('the server counted suggestions shown, accepted and partly accepted', ok, ok ? JSON.stringify(python) : String(python));
}

// --- the run --------------------------------------------------------------------------------

async function main() {
    fs.mkdirSync(OUTPUT, { recursive: true });
    const vsix = newestVsix();
    if (!vsix || !fs.existsSync(vsix)) {
        fatal(`no .vsix in ${EXTENSION_DIR}: run "npm ci && npm run package" there (or test/run-e2e.sh)`);
    }
    if (!fs.existsSync(SERVER)) {
        fatal(`no server at ${SERVER}: in the repository run "python3 -m venv .venv && .venv/bin/pip install ." (or set LSP_FIM)`);
    }
    if (!fs.existsSync(CHROMIUM)) {
        fatal(`no Chromium at ${CHROMIUM}: "apt-get install -y chromium" (or set CHROMIUM)`);
    }
    const codeServerBin = codeServer();
    const { chromium } = playwright();

    const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'lsp-fim-e2e-'));
    const userData = path.join(temp, 'user-data');
    const extensions = path.join(temp, 'extensions');
    const workspace = path.join(temp, 'workspace');
    const serverLog = path.join(temp, 'lsp-fim.log');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.mkdirSync(workspace, { recursive: true });
    // A copy, so the repository's example is never modified.
    const original = fs.readFileSync(path.join(REPO, 'examples', 'norm.py'), 'utf8');
    fs.writeFileSync(path.join(workspace, 'norm.py'), original);
    // The body line ("    r = "), the cursor at its end.
    const bodyLine = original.split('\n').findIndex((line, i, lines) => i > 0 && lines[i - 1].startsWith('def '));
    const column = original.split('\n')[bodyLine].length;
    info(`vsix ${path.basename(vsix)}, server ${SERVER}, code-server ${codeServerBin}`);
    info(`profile ${temp}; cursor at line ${bodyLine + 1}, column ${column + 1} of norm.py`);

    const settingsFile = path.join(userData, 'User', 'settings.json');
    // serverPath and serverArgs are machine-scoped settings ("machine"): in a remote window such
    // as code-server's they belong in the Remote settings (user-data/Machine), the others in the
    // User settings.
    fs.mkdirSync(path.join(userData, 'Machine'), { recursive: true });
    fs.writeFileSync(
        path.join(userData, 'Machine', 'settings.json'),
        JSON.stringify({ 'lspFim.serverPath': SERVER, 'lspFim.serverArgs': ['--log-file', serverLog, '-v'] }, null, 2),
    );
    const settings = {
        // Chromium and code-server share the 2 cores with the model here: give the first
        // suggestion time to finish its line (the default 500 ms can cut it to nothing). Sent as
        // initializationOptions, so this also checks that settings reach the server.
        'lspFim.maxGenerateMs': 3000,
        'editor.inlineSuggest.enabled': true,
        'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
        'editor.suggestOnTriggerCharacters': false,
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'chat.commandCenter.enabled': false,
        'chat.disableAIFeatures': true,
        'window.commandCenter': false,
    };
    const writeSettings = () => fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    writeSettings();
    fs.writeFileSync(
        path.join(userData, 'User', 'keybindings.json'),
        JSON.stringify([{ key: ACCEPT_LINE_KEY.toLowerCase().replace(/control/, 'ctrl'), command: 'editor.action.inlineSuggest.acceptNextLine', when: 'inlineSuggestionVisible' }]),
    );
    // The server's acceptance statistics go to a cache of this run's own; models stay where they are.
    const cacheHome = path.join(temp, 'cache');
    const userCache = process.env.XDG_CACHE_HOME && path.isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
    const serverEnv = {
        ...process.env,
        XDG_CACHE_HOME: cacheHome,
        LSP_FIM_CACHE_DIR: process.env.LSP_FIM_CACHE_DIR ?? path.join(userCache, 'lsp-fim', 'models'),
    };
    const statsFile = path.join(cacheHome, 'lsp-fim', 'acceptance-stats.json');

    // Its own config file, so that code-server leaves ~/.config/code-server alone.
    const config = path.join(temp, 'code-server.yaml');
    fs.writeFileSync(config, 'auth: none\ncert: false\n');
    const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];
    const install = spawnSync(codeServerBin, [...common, '--install-extension', vsix], { encoding: 'utf8' });
    const installText = `${install.stdout}${install.stderr}`.trim();
    if (!check('vsix installs into code-server', install.status === 0 && /successfully installed/i.test(installText), installText.split('\n').pop())) {
        return;
    }

    const port = await freePort();
    const serverProcess = spawn(
        codeServerBin,
        [
            ...common,
            '--auth', 'none',
            '--bind-addr', `127.0.0.1:${port}`,
            '--disable-telemetry',
            '--disable-update-check',
            '--disable-workspace-trust',
            '--disable-getting-started-override',
            workspace,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: serverEnv },
    );
    const codeServerLog = fs.createWriteStream(path.join(OUTPUT, 'code-server.log'));
    serverProcess.stdout.pipe(codeServerLog);
    serverProcess.stderr.pipe(codeServerLog);
    let browser;
    let page;
    try {
        await waitFor('code-server to listen', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000, 500);
        browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
        page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
        await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
        await page.waitForSelector('.statusbar', { timeout: 60_000 });

        // Open norm.py from the Explorer, then go to the end of the body line ("Go to Line", :L:C).
        await page.getByRole('treeitem', { name: 'norm.py' }).first().dblclick({ timeout: 30_000 });
        await page.waitForSelector('.monaco-editor .view-lines:has-text("def norm")', { timeout: 30_000 });
        // F1 opens the command palette with ">"; without it, it is Quick Open (":L:C" = Go to Line).
        const palette = async (text, { command = true } = {}) => {
            await waitFor('the command palette', async () => {
                await page.keyboard.press('F1');
                await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: 2_000 });
                return true;
            }, 15_000, 500);
            if (!command) {
                await page.keyboard.press('Backspace');
            }
            await page.keyboard.type(text);
            await waitFor(`"${text}" in the palette`, async () => (await page.locator('.quick-input-list .monaco-list-row').count()) > 0, 10_000);
            await page.keyboard.press('Enter');
        };
        await palette(`:${bodyLine + 1}:${column + 1}`, { command: false });
        const where = `Ln ${bodyLine + 1}, Col ${column + 1}`;
        await waitFor(`the cursor at ${where}`, async () => (await page.locator('.statusbar').innerText()).includes(where), 10_000);
        check('norm.py opens in the editor', true);

        const ready = await waitFor(
            'the status bar to say "lsp-fim: ready"',
            async () => page.locator('[aria-label^="lsp-fim: ready"]').first().getAttribute('aria-label', { timeout: 500 }),
            90_000,
            500,
        ).catch((error) => error);
        if (!check('status bar shows the model loaded', typeof ready === 'string', typeof ready === 'string' ? ready : String(ready))) {
            const label = await page.locator('[aria-label^="lsp-fim"]').first().getAttribute('aria-label').catch(() => null);
            info(`status bar: ${label}`);
        }

        // Ask for the suggestion, as Alt+\ (editor.action.inlineSuggest.trigger) does.
        const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
        // The ghost text on the cursor's line is a run of (coloured) spans; further lines are a
        // view zone of its own.
        const ghostText = async () => {
            const inline = (await page.locator('.monaco-editor .ghost-text-decoration').allTextContents()).join('');
            const more = await page.locator('.monaco-editor .ghost-text .view-line').allTextContents();
            return [inline, ...more].join('\n').replace(/\u00a0/g, ' ').trim();
        };
        const trigger = () => palette('Trigger Inline Suggestion');
        const shown = await waitFor(
            'ghost text',
            async () => {
                if ((await ghost.count()) === 0) {
                    await trigger();
                    await page.waitForTimeout(2_000);
                }
                const text = await ghostText();
                return text.length > 0 ? text : undefined;
            },
            60_000,
            500,
        ).catch((error) => error);
        await page.screenshot({ path: path.join(OUTPUT, 'ghost-text.png') });
        const ghostOk = check('ghost text appears at the cursor', typeof shown === 'string', typeof shown === 'string' ? JSON.stringify(shown) : String(shown));
        info(`screenshot: ${path.join(OUTPUT, 'ghost-text.png')}`);

        if (ghostOk) {
            await page.keyboard.press('Tab');
            const firstLine = shown.split('\n')[0].trim();
            const accepted = await waitFor(
                'the accepted text in the editor',
                async () => {
                    const line = await page.locator('.monaco-editor .view-line').nth(bodyLine).textContent();
                    const text = (line ?? '').replace(/\u00a0/g, ' ');
                    return text.includes(firstLine) && (await ghost.count()) === 0 ? text.trim() : undefined;
                },
                10_000,
            ).catch((error) => error);
            await page.screenshot({ path: path.join(OUTPUT, 'accepted.png') });
            check('Tab accepts the suggestion into the file', typeof accepted === 'string', typeof accepted === 'string' ? `line ${bodyLine + 1}: ${JSON.stringify(accepted)}` : String(accepted));
        }

        await typingFlow(page, ghostText);
        await alternativesFlow(page, ghostText, palette);

        // lsp-fim: Show statistics (the custom lspFim/stats request), shown as a notification.
        await page.keyboard.press('Escape');
        await palette('lsp-fim: Show statistics');
        const stats = await waitFor(
            'the statistics notification',
            async () => {
                const texts = await page.locator('.notification-list-item-message').allInnerTexts();
                return texts.find((t) => t.includes('lsp-fim: requests') && t.includes('python: '));
            },
            15_000,
        ).catch((error) => error);
        await page.screenshot({ path: path.join(OUTPUT, 'statistics.png') });
        check('"lsp-fim: Show statistics" shows the server counters and the accept counts', typeof stats === 'string', typeof stats === 'string' ? stats : String(stats));
        await checkAcceptanceFile(statsFile);

        // Settings changed in the Settings editor (as a user would) reach the running server.
        const setSetting = async (key, value, tab = 'User') => {
            await palette('Preferences: Open User Settings');
            await page.waitForSelector('.settings-editor', { timeout: 15_000 });
            await page.waitForTimeout(500);
            await page.keyboard.press('Control+A');
            await page.keyboard.type(key);
            await page.locator('.settings-editor .settings-tabs-widget .action-label', { hasText: tab }).first().click();
            const input = page.locator('.settings-editor .setting-item-contents input:visible').first();
            await input.waitFor({ state: 'visible', timeout: 15_000 });
            await page.waitForTimeout(500);
            await input.fill(String(value));
            await page.waitForTimeout(1_500); // the Settings editor writes after a short pause
        };
        const configurationNotices = () =>
            (fs.existsSync(serverLog) ? fs.readFileSync(serverLog, 'utf8') : '').split("Notification 'workspace/didChangeConfiguration' received").length - 1;
        const before = configurationNotices();
        await setSetting('lspFim.maxTokens', 48);
        const notices = await waitFor('workspace/didChangeConfiguration in the server log', async () => (configurationNotices() > before ? configurationNotices() : undefined), 15_000).catch((error) => error);
        const written = fs.readFileSync(settingsFile, 'utf8').replace(/\s+/g, ' ');
        check(
            'a setting changed in the Settings editor reaches the server',
            typeof notices === 'number' && written.includes('"lspFim.maxTokens": 48'),
            typeof notices === 'number' ? `didChangeConfiguration received (${notices} in all)` : String(notices),
        );

        // A server path that does not exist: the extension says which setting to fix.
        await setSetting('lspFim.serverPath', path.join(temp, 'no-such-dir', 'lsp-fim'), 'Remote');
        const notFound = await waitFor(
            'the "not found" error',
            async () => (await page.locator('.notification-list-item-message').allInnerTexts()).find((t) => t.includes('not found') && t.includes('lspFim.serverPath')),
            20_000,
        ).catch((error) => error);
        const statusLabel = await page.locator('[aria-label^="lsp-fim:"]').first().getAttribute('aria-label').catch(() => null);
        await page.screenshot({ path: path.join(OUTPUT, 'not-found.png') });
        check(
            'a missing server executable is reported, naming lspFim.serverPath',
            typeof notFound === 'string' && statusLabel?.includes('not found') === true,
            typeof notFound === 'string' ? `${notFound} | status bar: ${statusLabel}` : String(notFound),
        );
    } catch (error) {
        await page?.screenshot({ path: path.join(OUTPUT, 'failure.png') }).catch(() => undefined);
        check('run', false, `${error?.stack ?? error} (screenshot: ${path.join(OUTPUT, 'failure.png')})`);
    } finally {
        await browser?.close().catch(() => undefined);
        try {
            process.kill(-serverProcess.pid, 'SIGTERM');
        } catch {
            // already gone
        }
        await new Promise((r) => setTimeout(r, 1_000));
        codeServerLog.end();
    }

    // The server log: the inlineCompletion request answered with a non-empty suggestion.
    const log = fs.existsSync(serverLog) ? fs.readFileSync(serverLog, 'utf8') : '';
    fs.writeFileSync(path.join(OUTPUT, 'lsp-fim.log'), log);
    const answered = log.split('\n').filter((line) => /\bcomplete path=\S*norm\.py .*chars=[1-9]/.test(line));
    check('server log: inlineCompletion answered with text', log.includes('textDocument/inlineCompletion') && answered.length > 0, answered[0]?.replace(/^.*?(complete path=)/, '$1') ?? 'no such line');
    const several = log.split('\n').filter((line) => line.includes('Sending data') && (line.match(/"insertText"/g) ?? []).length >= 2);
    check('server log: an explicit request answered with alternatives', several.length > 0, `${several.length} answers with 2 or more items`);
    const warnings = log.split('\n').filter((line) => /lsp-fim: (unknown setting|setting )/.test(line));
    check('server log: no warnings about the settings sent', log !== '' && warnings.length === 0, warnings[0] ?? '');
    info(`server log: ${path.join(OUTPUT, 'lsp-fim.log')}`);
    if (process.env.E2E_KEEP) {
        info(`kept ${temp}`);
    } else {
        fs.rmSync(temp, { recursive: true, force: true });
    }
}

main()
    .catch((error) => check('run', false, error?.stack ?? String(error)))
    .finally(finish);
