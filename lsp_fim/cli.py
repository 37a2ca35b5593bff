"""``lsp-fim``: serve the LSP, complete one position headlessly, manage models, check the set-up."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import Field, fields
from pathlib import Path
from typing import Any

from lsp_fim import __version__
from lsp_fim.config import (
    COMPLETE,
    SERVE,
    Flag,
    Setting,
    Settings,
    declaration,
    declared_default,
)
from lsp_fim.engine import Completion, CompletionRequest, load_engine
from lsp_fim.languages import language_id_for_path
from lsp_fim.logging_setup import enable_stack_dumps, setup_logging
from lsp_fim.positions import Position, PositionError, offset_of, position_of
from lsp_fim.privacy import is_denied, redact_at

log = logging.getLogger("lsp_fim")


def _tcp_address(value: str) -> tuple[str, int]:
    """``HOST:PORT``, or ``PORT`` alone for the loopback address."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT or PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _serve(args: argparse.Namespace) -> int:
    from lsp_fim.handlers import create_server
    from lsp_fim.loopback import is_loopback

    enable_stack_dumps()
    server = create_server(_settings_from_flags(args))
    if args.tcp:
        host, port = args.tcp
        if not is_loopback(host) and not args.allow_remote:
            print(
                f"lsp-fim: {host} is reachable from other machines, and anyone who reaches "
                "the port reads the code you complete; listen on 127.0.0.1, or pass "
                "--allow-remote if you mean it",
                file=sys.stderr,
            )
            return 2
        log.info("lsp-fim %s listening on %s:%d", __version__, host, port)
        server.start_tcp(host, port)
    else:
        log.info("lsp-fim %s on stdio", __version__)
        server.start_io()
    return 0


def _flagged_fields(command: str) -> list[Field[Any]]:
    """The settings with a flag in ``command`` (declared in :mod:`lsp_fim.config`)."""
    return [
        settings_field
        for settings_field in fields(Settings)
        if (flag := declaration(settings_field).flag) is not None and command in flag.commands
    ]


def _add_setting_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """``--NAME`` for each setting with a flag in ``command``; ``--no-NAME`` turns a boolean
    one off. Unset, a flag is None and leaves the setting's default."""
    for settings_field in _flagged_fields(command):
        setting = declaration(settings_field)
        assert setting.flag is not None
        dashed = settings_field.name.replace("_", "-")
        help_text = setting.flag.help.format(default=declared_default(settings_field))
        if isinstance(settings_field.default, bool):
            parser.add_argument(
                f"--no-{dashed}",
                dest=settings_field.name,
                action="store_const",
                const=not settings_field.default,
                help=help_text,
            )
            continue
        parser.add_argument(
            f"--{dashed}",
            dest=settings_field.name,
            metavar=setting.flag.metavar,
            choices=setting.choices,
            type=setting.flag.type if setting.choices else _argument_type(setting, setting.flag),
            help=help_text,
        )


def _argument_type(setting: Setting, flag: Flag) -> Callable[[str], Any]:
    """A flag's value is checked as the setting's is on the wire. argparse shows an
    ArgumentTypeError's message alone, without the value: a key given as ``--api-key-env``
    by mistake is not printed again."""

    def checked(text: str) -> Any:
        value = flag.type(text)  # a ValueError here: argparse says "invalid int value: 'x'"
        try:
            return setting.parse(value)
        except ValueError as error:
            shown = f" (got {text!r})" if setting.echoed else ""
            raise argparse.ArgumentTypeError(f"{error}{shown}") from None

    checked.__name__ = getattr(flag.type, "__name__", "")
    return checked


def _settings_from_flags(args: argparse.Namespace, command: str | None = None) -> Settings:
    """The settings the flags of ``command`` (by default the one given) give; an editor's own
    settings still win. ``doctor`` takes the flags of ``serve``."""
    given = {
        settings_field.name: getattr(args, settings_field.name)
        for settings_field in _flagged_fields(command or args.command)
    }
    return Settings(**{name: value for name, value in given.items() if value is not None})


def _completion_json(text: str, completion: Completion | None, template: str) -> dict[str, Any]:
    if completion is None:
        return {"text": "", "range": None, "stop_reason": None, "template": template}
    start = position_of(text, completion.start, "utf-32")
    end = position_of(text, completion.end, "utf-32")
    stats = completion.stats
    return {
        "text": completion.text,
        "range": {
            "start": {"line": start.line, "character": start.character},
            "end": {"line": end.line, "character": end.character},
        },
        "stop_reason": str(completion.stop_reason),
        # Null where the engine gave no probabilities; text is empty below --min-confidence.
        "confidence": None if completion.confidence is None else round(completion.confidence, 4),
        "from_cache": completion.from_cache,
        "template": template,
        "prompt_tokens": stats.prompt_tokens,
        "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
        "generated_tokens": stats.generated_tokens,
        "timings": {
            "prompt_ms": round(stats.prompt_ms, 1),
            "generate_ms": round(stats.generate_ms, 1),
            "total_ms": round(completion.total_ms, 1),
        },
    }


def _complete(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if is_denied(str(path)) or is_denied(str(path.resolve())):
        print(f"lsp-fim: {path} may hold secrets (deny-list): not sent to a model", file=sys.stderr)
        return 2
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"lsp-fim: cannot read {path}: {error}", file=sys.stderr)
        return 2
    try:
        offset = offset_of(text, Position(args.line, args.character), "utf-32")
    except PositionError as error:
        print(f"lsp-fim: {path}: {error}", file=sys.stderr)
        return 2
    redacted = redact_at(text, offset)  # secret lines never reach a model
    if redacted is None:
        print(f"lsp-fim: {path}: line {args.line} holds a secret: no suggestion", file=sys.stderr)
        return 2
    text, offset = redacted
    engine = load_engine(_settings_from_flags(args), progress=None)
    request = CompletionRequest(text, offset, language_id_for_path(str(path)), str(path.resolve()))
    completion = engine.complete(request)
    if args.json:
        print(json.dumps(_completion_json(text, completion, engine.template.name), indent=2))
    elif completion is not None and completion.text:
        print(completion.text)
    return 0


def _model(args: argparse.Namespace) -> int:
    from lsp_fim import models

    if args.model_command == "list":
        print(models.format_model_list())
        return 0
    path = models.pull_model(args.name or models.DEFAULT_MODEL, force=args.force)
    print(path)
    return 0


def _add_global_flags(parser: argparse.ArgumentParser, *, on_command: bool) -> None:
    """``--log-file`` and ``-v`` go before or after the command, as people type them: each
    command takes them too, unset there (SUPPRESS) so as not to undo those given before it."""
    parser.add_argument(
        "--log-file",
        default=argparse.SUPPRESS if on_command else None,
        help="log here instead of stderr (never stdout)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if on_command else False,
        help="debug logging",
    )


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    command = commands.add_parser(name, help=help_text, description=help_text)
    _add_global_flags(command, on_command=True)
    return command


def _doctor(args: argparse.Namespace) -> int:
    from lsp_fim import doctor

    checks = doctor.run_checks(_settings_from_flags(args, SERVE))
    print(doctor.as_json(checks) if args.json else doctor.as_text(checks))
    return 1 if doctor.any_failed(checks) else 0


def _stats(args: argparse.Namespace) -> int:
    from lsp_fim import acceptance

    path = acceptance.stats_path()
    print(acceptance.render_acceptance_table(acceptance.read_tallies(path), path))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lsp-fim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"lsp-fim {__version__}")
    _add_global_flags(parser, on_command=False)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = _command(commands, "serve", "run the language server (stdio by default)")
    serve.add_argument(
        "--tcp",
        type=_tcp_address,
        metavar="[HOST:]PORT",
        help="listen on TCP for one client (host default 127.0.0.1)",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --tcp on an address other machines can reach (no authentication!)",
    )
    _add_setting_arguments(serve, SERVE)
    serve.set_defaults(handler=_serve)

    complete = _command(commands, "complete", "complete one position and print it")
    complete.add_argument("file")
    complete.add_argument("--line", type=int, required=True, help="0-based line")
    complete.add_argument(
        "--character", type=int, required=True, help="0-based column, in characters"
    )
    complete.add_argument("--json", action="store_true", help="print text, range, timings, stop")
    _add_setting_arguments(complete, COMPLETE)
    complete.set_defaults(handler=_complete)

    model = _command(commands, "model", "manage cached models")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    pull = _command(model_commands, "pull", "download a known model into the cache")
    pull.add_argument("name", nargs="?", help="known model name (default: the default model)")
    pull.add_argument("--force", action="store_true", help="download again even if cached")
    _command(model_commands, "list", "known models and what is cached")
    model.set_defaults(handler=_model)

    doctor = _command(
        commands, "doctor", "check the set-up (the engine of serve's flags) and say what fixes it"
    )
    doctor.add_argument(
        "--json", action="store_true", help="a JSON list of {check, status, detail, fix}"
    )
    _add_setting_arguments(doctor, SERVE)
    doctor.set_defaults(handler=_doctor)

    stats = _command(
        commands, "stats", "suggestions shown and accepted, per language and model (local)"
    )
    stats.set_defaults(handler=_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_file, args.verbose)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.verbose:
            log.exception("failed")
        print(f"lsp-fim: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
