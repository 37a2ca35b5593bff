// lsp-fim for VS Code: runs `lsp-fim serve` over stdio and lets vscode-languageclient turn the
// server's textDocument/inlineCompletion answers into ghost text.
//
// Settings under `lspFim.*` go to the server as initializationOptions and, when they change,
// through workspace/didChangeConfiguration (and answer workspace/configuration). Only settings the
// user has set are sent, so every other one keeps the server's default (which may be the server's
// own command line, e.g. `--model`). `lspFim.serverPath` and `lspFim.serverArgs` are the
// extension's own and never reach the server. The settings that decide what runs or where code
// goes are read from user settings only (src/settings.ts); in an untrusted workspace (Restricted
// Mode) the server executable is never looked for in the workspace.

import * as os from 'node:os';
import * as vscode from 'vscode';
import {
    CancellationToken,
    ClientCapabilities,
    ConfigurationParams,
    ConfigurationRequest,
    DidChangeConfigurationNotification,
    DidChangeConfigurationSignature,
    Disposable,
    FeatureState,
    InlineCompletionRequest,
    LanguageClient,
    LanguageClientOptions,
    LSPAny,
    ResponseError,
    RevealOutputChannelOn,
    ServerOptions,
    State,
    StaticFeature,
    WorkDoneProgress,
    WorkDoneProgressCreateRequest,
} from 'vscode-languageclient/node';
import { expandPath, findExecutable, hasSeparator, Inspect, launchSettings, serverSettings, Settings } from './settings';

export const SECTION = 'lspFim';
const STATS_REQUEST = 'lspFim/stats';
// Local acceptance statistics (lsp_fim/acceptance.py): the server gives each suggestion an id, as
// the argument of this command, which VS Code runs when the suggestion is accepted whole; the
// extension reports that, and the suggestions shown and taken a word or line at a time.
const ACCEPT_COMMAND = 'lspFim.completionAccepted';
const DID_SHOW = 'lspFim/didShowCompletion';
const DID_ACCEPT = 'lspFim/didAcceptCompletion';
const DID_PARTIALLY_ACCEPT = 'lspFim/didPartiallyAcceptCompletion';
const DOCUMENT_SELECTOR = [{ scheme: 'file' }, { scheme: 'untitled' }];

interface Launch {
    /** The setting as written, to notice changes. */
    configured: string;
    args: string[];
    /** Whether the workspace was trusted: in Restricted Mode serverPath may not name its files. */
    trusted: boolean;
    /** The executable found, or undefined. */
    command: string | undefined;
}

function firstWorkspaceFolder(): string | undefined {
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
    return folder?.uri.fsPath;
}

/** `config.inspect`, as the settings module reads it. */
function inspector(config: vscode.WorkspaceConfiguration): Inspect {
    return (key: string) => config.inspect(key);
}

function launchFromSettings(config: vscode.WorkspaceConfiguration): Launch {
    const { configured, args } = launchSettings(inspector(config));
    const trusted = vscode.workspace.isTrusted;
    const executable = expandPath(configured, trusted ? firstWorkspaceFolder() : undefined);
    const command = executable === undefined ? undefined : findExecutable(executable);
    return { configured, args, trusted, command };
}

function sameLaunch(a: Launch, b: Launch): boolean {
    return (
        a.configured === b.configured &&
        a.trusted === b.trusted &&
        JSON.stringify(a.args) === JSON.stringify(b.args)
    );
}

// ------------------------------------------------------------------------------------------------
// Status bar

type Phase = 'starting' | 'loading' | 'ready' | 'failed' | 'stopped' | 'notFound';

class StatusItem implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;

    constructor() {
        this.item = vscode.window.createStatusBarItem('lspFim.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'lsp-fim';
        this.item.command = 'lspFim.showStats';
        this.item.show();
    }

    set(phase: Phase, detail = ''): void {
        const icons: Record<Phase, string> = {
            starting: '$(sync~spin)',
            loading: '$(sync~spin)',
            ready: '$(sparkle)',
            failed: '$(error)',
            stopped: '$(circle-slash)',
            notFound: '$(error)',
        };
        const words: Record<Phase, string> = {
            starting: 'starting the server',
            loading: 'loading model',
            ready: 'ready',
            failed: 'failed',
            stopped: 'server stopped',
            notFound: 'server not found (lspFim.serverPath)',
        };
        const summary = `lsp-fim: ${words[phase]}${detail ? ` ${detail}` : ''}`;
        const percent = phase === 'loading' ? /\d+%/.exec(detail)?.[0] : undefined;
        this.item.text = `${icons[phase]} lsp-fim${percent ? ` ${percent}` : ''}`;
        this.item.tooltip = `${summary}\nClick for statistics.`;
        this.item.accessibilityInformation = { label: summary };
        this.item.command = phase === 'notFound' ? 'lspFim.openServerPathSetting' : 'lspFim.showStats';
        this.item.backgroundColor =
            phase === 'failed' || phase === 'notFound'
                ? new vscode.ThemeColor('statusBarItem.errorBackground')
                : undefined;
    }

    dispose(): void {
        this.item.dispose();
    }
}

/**
 * Follows the server's `$/progress` reports (the model load: "lsp-fim: loading model", ending
 * with `ready (TEMPLATE)` or `failed`) in the status bar item. It answers
 * window/workDoneProgress/create itself, after (so instead of) the client's generic progress
 * feature, since this server's only progress is the model load.
 */
class LoadProgressFeature implements StaticFeature {
    private readonly listeners = new Set<Disposable>();

    constructor(
        private readonly client: LanguageClient,
        private readonly status: StatusItem,
    ) {}

    fillClientCapabilities(capabilities: ClientCapabilities): void {
        capabilities.window = capabilities.window ?? {};
        capabilities.window.workDoneProgress = true;
    }

    getState(): FeatureState {
        return { kind: 'static' };
    }

    initialize(): void {
        this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
            const listener: Disposable = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
                if (value.kind === 'end') {
                    const message = value.message ?? '';
                    this.status.set(message.startsWith('ready') ? 'ready' : 'failed', message.replace(/^ready\s*/, ''));
                    listener.dispose();
                    this.listeners.delete(listener);
                    return;
                }
                const percent = value.percentage !== undefined ? `${value.percentage}%` : '';
                this.status.set('loading', [percent, value.message ?? ''].filter((s) => s !== '').join(' '));
            });
            this.listeners.add(listener);
        });
    }

    clear(): void {
        for (const listener of this.listeners) {
            listener.dispose();
        }
        this.listeners.clear();
    }
}

// ------------------------------------------------------------------------------------------------
// The client

class FimClient implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private launch: Launch | undefined;
    /** What the running server was last told; a key that disappears needs a fresh server. */
    private sent: Settings = {};
    private queue: Promise<void> = Promise.resolve();

    constructor(
        private readonly output: vscode.LogOutputChannel,
        private readonly status: StatusItem,
    ) {}

    /** Runs start/stop/restart one at a time. */
    enqueue(job: () => Promise<void>): Promise<void> {
        this.queue = this.queue.then(job, job).catch((error: unknown) => {
            this.output.info(`lsp-fim: ${String(error)}`);
        });
        return this.queue;
    }

    start(): Promise<void> {
        return this.enqueue(() => this.doStart());
    }

    restart(): Promise<void> {
        return this.enqueue(async () => {
            await this.doStop();
            await this.doStart();
        });
    }

    get running(): LanguageClient | undefined {
        return this.client?.state === State.Running ? this.client : undefined;
    }

    /**
     * A change to lspFim.serverPath or lspFim.serverArgs needs a new server process, and so does
     * trust granted to the workspace where serverPath names a file in it.
     */
    onConfigurationChanged(event: vscode.ConfigurationChangeEvent | undefined): void {
        if (event !== undefined && !event.affectsConfiguration(SECTION)) {
            return;
        }
        const launch = launchFromSettings(vscode.workspace.getConfiguration(SECTION));
        if (this.launch === undefined || !sameLaunch(this.launch, launch)) {
            void this.restart();
        }
    }

    private async doStart(): Promise<void> {
        const config = vscode.workspace.getConfiguration(SECTION);
        const launch = launchFromSettings(config);
        this.launch = launch;
        if (launch.command === undefined) {
            this.status.set('notFound');
            void reportNotFound(launch, this.output);
            return;
        }
        this.status.set('starting');
        const settings = serverSettings(inspector(config));
        // The server runs in the home folder, not the workspace's: nothing there is its own.
        const serverOptions: ServerOptions = {
            command: launch.command,
            args: [...launch.args, 'serve'],
            options: { cwd: os.homedir() },
        };
        this.output.info(`lsp-fim: starting ${[launch.command, ...launch.args, 'serve'].join(' ')}`);
        this.output.info(`lsp-fim: settings sent ${JSON.stringify(settings)}`);
        const clientOptions: LanguageClientOptions = {
            documentSelector: DOCUMENT_SELECTOR,
            initializationOptions: { [SECTION]: settings },
            synchronize: { configurationSection: SECTION },
            outputChannel: this.output,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            middleware: {
                // Ghost text is the VS Code way; the same suggestion in the completion menu is
                // opt-in, since every menu request would also cancel the ghost text's (the server
                // lets the newest request for a document win).
                provideCompletionItem: (document, position, context, token, next) =>
                    vscode.workspace.getConfiguration(SECTION).get<boolean>('completionMenu', false)
                        ? next(document, position, context, token)
                        : undefined,
                // The client's own ghost-text provider stays silent: FimInlineProvider asks the
                // server instead, since only a provider registered with VS Code's event handlers
                // hears which suggestions were shown and which were taken in part.
                provideInlineCompletionItems: () => undefined,
                workspace: {
                    configuration: (params, token, next) => this.answerConfiguration(params, token, next),
                    didChangeConfiguration: (sections, next) => this.sendConfiguration(sections, next),
                },
            },
        };
        const client = new LanguageClient('lspFim', 'lsp-fim', serverOptions, clientOptions);
        client.registerFeature(new LoadProgressFeature(client, this.status));
        client.onDidChangeState(({ newState }) => {
            if (this.client !== client) {
                return;
            }
            if (newState === State.Stopped) {
                this.status.set('stopped');
            } else if (newState === State.Starting) {
                this.status.set('starting');
            }
        });
        this.client = client;
        this.sent = settings;
        try {
            await client.start();
        } catch (error) {
            this.status.set('failed', 'to start');
            const message = error instanceof Error ? error.message : String(error);
            this.output.error(`lsp-fim: the server failed to start: ${message}`);
            void vscode.window
                .showErrorMessage(`lsp-fim: the server failed to start: ${message}`, 'Show Output')
                .then((choice) => choice && this.output.show());
        }
    }

    private async doStop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (client !== undefined && client.state !== State.Stopped) {
            try {
                await client.stop(5000);
            } catch (error) {
                this.output.info(`lsp-fim: stopping the server: ${String(error)}`);
            }
        }
        this.status.set('stopped');
    }

    stop(): Promise<void> {
        return this.enqueue(() => this.doStop());
    }

    private async answerConfiguration(
        params: ConfigurationParams,
        token: CancellationToken,
        next: ConfigurationRequest.HandlerSignature,
    ): Promise<LSPAny[] | ResponseError<void>> {
        const answers = await next(params, token);
        if (!Array.isArray(answers)) {
            return answers;
        }
        const settings = serverSettings(inspector(vscode.workspace.getConfiguration(SECTION)));
        // Every lspFim section is answered from the settings read here, never VS Code's merge.
        return answers.map((answer, index) => {
            const section = params.items[index]?.section;
            if (section === SECTION) {
                return settings;
            }
            return section?.startsWith(`${SECTION}.`) ? (settings[section.slice(SECTION.length + 1)] ?? null) : answer;
        });
    }

    private async sendConfiguration(
        _sections: string[] | undefined,
        _next: DidChangeConfigurationSignature,
    ): Promise<void> {
        const client = this.client;
        const config = vscode.workspace.getConfiguration(SECTION);
        if (client === undefined || (this.launch && !sameLaunch(this.launch, launchFromSettings(config)))) {
            return; // onConfigurationChanged restarts the server
        }
        const settings = serverSettings(inspector(config));
        // The server applies settings over its current ones: a removed setting is sent as
        // null, which puts it back to the server's default.
        const removed = Object.keys(this.sent).filter((key) => !(key in settings));
        const update: Settings = { ...settings };
        for (const key of removed) {
            update[key] = null;
        }
        this.sent = settings;
        await client.sendNotification(DidChangeConfigurationNotification.type, {
            settings: { [SECTION]: update },
        });
    }

    dispose(): void {
        void this.stop();
    }
}

async function reportNotFound(launch: Launch, output: vscode.LogOutputChannel): Promise<void> {
    const configured = launch.configured;
    const where = hasSeparator(configured) ? `"${configured}"` : `"${configured}" on PATH`;
    const restricted =
        !launch.trusted && expandPath(configured, undefined) === undefined
            ? ' In Restricted Mode it may not name a file in the workspace: trust the workspace, or give an absolute path.'
            : '';
    const message =
        `lsp-fim: the server executable was not found (looked for ${where}).${restricted} ` +
        'Set "lspFim.serverPath" in your user settings to your lsp-fim executable, e.g. /path/to/lsp-fim/.venv/bin/lsp-fim.';
    output.info(message);
    const choice = await vscode.window.showErrorMessage(message, 'Open Settings');
    if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('lspFim.openServerPathSetting');
    }
}

// ------------------------------------------------------------------------------------------------
// Ghost text, and what became of it

/** The id the server gave a suggestion, if it counts acceptance (`lspFim.acceptanceStats`). */
function suggestionId(item: vscode.InlineCompletionItem): string | undefined {
    const command = item.command;
    const id: unknown = command?.command === ACCEPT_COMMAND ? command.arguments?.[0] : undefined;
    return typeof id === 'string' ? id : undefined;
}

/** Asks the running server for ghost text (`textDocument/inlineCompletion`). */
class FimInlineProvider implements vscode.InlineCompletionItemProvider {
    constructor(protected readonly fim: FimClient) {}

    async provideInlineCompletionItems(
        document: vscode.TextDocument,
        position: vscode.Position,
        context: vscode.InlineCompletionContext,
        token: vscode.CancellationToken,
    ): Promise<vscode.InlineCompletionList | vscode.InlineCompletionItem[] | null | undefined> {
        const client = this.fim.running;
        if (client === undefined) {
            return undefined;
        }
        const params = client.code2ProtocolConverter.asInlineCompletionParams(document, position, context);
        try {
            const result = await client.sendRequest(InlineCompletionRequest.type, params, token);
            return token.isCancellationRequested ? null : client.protocol2CodeConverter.asInlineCompletionResult(result, token);
        } catch (error) {
            return client.handleFailedRequest(InlineCompletionRequest.type, token, error, null);
        }
    }

    report(method: string, item: vscode.InlineCompletionItem, more: Record<string, number> = {}): void {
        reportSuggestion(this.fim, method, suggestionId(item), more);
    }
}

/** Tells the server what became of the suggestion it gave the id `id`. */
function reportSuggestion(fim: FimClient, method: string, id: unknown, more: Record<string, number> = {}): void {
    if (typeof id === 'string') {
        void fim.running?.sendNotification(method, { id, ...more }).catch(() => undefined);
    }
}

/** `PartialAcceptInfo` of the proposed API `inlineCompletionsAdditions`. */
interface PartialAcceptInfo {
    acceptedLength: number;
}

/**
 * The provider with the event handlers of the proposed API `inlineCompletionsAdditions`
 * (code-server and VS Code started with `--enable-proposed-api lsp-fim.lsp-fim` allow it): shown,
 * and taken a word or line at a time.
 */
class ReportingInlineProvider extends FimInlineProvider {
    handleDidShowCompletionItem(item: vscode.InlineCompletionItem): void {
        this.report(DID_SHOW, item);
    }

    /**
     * VS Code calls this twice per partial accept, with the accepted length and with a
     * `PartialAcceptInfo` holding the same: only the second is reported. The length is that of
     * the suggestion's text now in the document, all partial accepts together.
     */
    handleDidPartiallyAcceptCompletionItem(item: vscode.InlineCompletionItem, info: number | PartialAcceptInfo): void {
        if (typeof info === 'object' && typeof info.acceptedLength === 'number') {
            this.report(DID_PARTIALLY_ACCEPT, item, { acceptedLength: info.acceptedLength });
        }
    }
}

/**
 * Ghost text from the server, reported when shown or partly accepted where VS Code allows the
 * proposed API those reports need; elsewhere (it throws at registration) without those reports,
 * and a whole accept is still reported through the suggestion's command.
 */
function registerInlineProvider(fim: FimClient, output: vscode.LogOutputChannel): vscode.Disposable {
    try {
        return vscode.languages.registerInlineCompletionItemProvider(DOCUMENT_SELECTOR, new ReportingInlineProvider(fim));
    } catch (error) {
        output.info(`lsp-fim: suggestions shown or partly accepted are not counted here: ${String(error)}`);
        return vscode.languages.registerInlineCompletionItemProvider(DOCUMENT_SELECTOR, new FimInlineProvider(fim));
    }
}

/** Counts per language (or model), as `lspFim/stats` gives them under `acceptance`. */
interface Tally {
    shown: number;
    accepted: number;
    partiallyAccepted: number;
}

function describeAcceptance(acceptance: unknown): string[] {
    const byLanguage = (acceptance as { byLanguage?: Record<string, Tally> } | undefined)?.byLanguage ?? {};
    return Object.entries(byLanguage).map(
        ([language, t]) => `${language}: ${t.accepted} of ${t.shown} accepted, ${t.partiallyAccepted} in part`,
    );
}

function describeStats(stats: Record<string, unknown>): string {
    const { acceptance, ...counters } = stats;
    const entries = Object.entries(counters);
    const parts =
        entries.length === 0
            ? ['no statistics yet: the model is not loaded']
            : entries.map(([key, value]) => `${key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} ${String(value)}`);
    return [...parts, ...describeAcceptance(acceptance)].join(', ');
}

// ------------------------------------------------------------------------------------------------

let fim: FimClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const output = vscode.window.createOutputChannel('lsp-fim', { log: true });
    const status = new StatusItem();
    fim = new FimClient(output, status);
    const client = fim;
    context.subscriptions.push(
        output,
        status,
        client,
        vscode.workspace.onDidChangeConfiguration((event) => client.onConfigurationChanged(event)),
        vscode.workspace.onDidGrantWorkspaceTrust(() => client.onConfigurationChanged(undefined)),
        vscode.commands.registerCommand('lspFim.restartServer', () => client.restart()),
        vscode.commands.registerCommand('lspFim.showOutput', () => output.show()),
        registerInlineProvider(client, output),
        vscode.commands.registerCommand(ACCEPT_COMMAND, (id: unknown) => reportSuggestion(client, DID_ACCEPT, id)),
        vscode.commands.registerCommand('lspFim.openServerPathSetting', () =>
            vscode.commands.executeCommand('workbench.action.openSettings', 'lspFim.serverPath'),
        ),
        vscode.commands.registerCommand('lspFim.showStats', async () => {
            const running = client.running;
            if (running === undefined) {
                void vscode.window.showWarningMessage('lsp-fim: the server is not running.');
                return;
            }
            try {
                const stats = await running.sendRequest<Record<string, unknown>>(STATS_REQUEST, {});
                output.info(`lsp-fim: statistics ${JSON.stringify(stats)}`);
                void vscode.window.showInformationMessage(`lsp-fim: ${describeStats(stats)}`);
                return stats;
            } catch (error) {
                void vscode.window.showErrorMessage(`lsp-fim: statistics failed: ${String(error)}`);
                return undefined;
            }
        }),
    );
    await client.start();
}

export async function deactivate(): Promise<void> {
    await fim?.stop();
    fim = undefined;
}
