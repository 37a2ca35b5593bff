"""What may be read into a prompt: files denied by name, secrets found by shape and redacted,
and the log that keeps none of them (no model, no LSP)."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsp_fim import privacy
from lsp_fim.config import Settings, settings_from_wire
from lsp_fim.logging_setup import RedactSecrets, setup_logging

REPO = Path(__file__).resolve().parent.parent

# Made-up secrets of each shape; none is real.
AWS_ID = "AKIA" + "LEAKTEST1234ABCD"
GITHUB = "ghp_" + "Leak" * 9
SECRETS = {
    "aws key id": f"aws_id = {AWS_ID}",
    "aws secret": "aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYLEAKTEST12345",
    "github": f'token = "{GITHUB}"',
    "github pat": "GH=github_pat_" + "11ABCDEFG0" * 4,
    "github oauth": "x = 'gho_" + "a1B2" * 9 + "'",
    "openai": "client = OpenAI(api_key='sk-" + "T3stLeak" * 6 + "')",
    "openai project": "OPENAI = 'sk-proj-" + "Ab1_" * 20 + "'",
    "anthropic": "headers['x-api-key'] = 'sk-ant-api03-" + "xY9-" * 20 + "'",
    "slack": "SLACK = 'xoxb-" + "123456789012-" * 2 + "AbCdEfGhIjKl'",
    "google": "const KEY = 'AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q" + "';",
    "stripe live": "stripe.api_key = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" + "'",
    "stripe restricted": "STRIPE = 'rk_live_" + "51H8zQ2eZvKYlo2C0abc" + "'",
    "jwt": "auth = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'",
    "python password": 'DB_PASSWORD = "hunter22hunter"',
    "json api key": '  "apiKey": "Zq3kLm9pQr7sT2vW",',
    "yaml password": "  password: s3cr3tP4ss",
    "env style": "CLIENT_SECRET=abc123def456ghi",
    "js secret": "const clientSecret = `Xy7Pq2Lm9Kw3`;",
}
ORDINARY = [
    "password = getpass.getpass()",
    'api_key = os.environ["API_KEY"]',
    "if password == confirmation:",
    'PASSWORD_FIELD = "password"',
    'label = "Enter your password"',
    'api_key = "YOUR_API_KEY"',
    "secret_key = settings.SECRET_KEY",
    'token = "<|fim_prefix|>"',
    'PASSWORD_REQUIRED = "FlowPasswordRequiredResultV2"',
    "url = 'https://example.com/risk-assessment-2024-quarterly-report-final-v2'",
    "password: str",
    "    password=password,",
    'secret_name = "prod/db/credentials"',
    "key = AKIA",  # the prefix alone
]


@pytest.mark.parametrize(
    "path",
    [
        "/home/me/project/.env",
        "/home/me/project/.env.production",
        "/home/me/my project/.ENV",  # case, spaces
        "/home/me/proj%20x/.env",  # a URI's escapes, which pygls leaves in paths
        "/home/me/proj/%2Eenv",
        "/home/me/proj/id%5Frsa",
        "C:\\Users\\Zoë\\projects\\app\\.env.local",  # Windows, non-ASCII
        "c:/Users/me/.ssh/id_ed25519",
        "/x/.env.",  # Windows opens .env for ".env." and ".env::$DATA"
        "/x/.env::$DATA",
        "/home/me/.ssh/id_rsa",
        "/home/me/.ssh/config",
        "/home/me/keys/id_rsa.pub",
        "/srv/tls/server.PEM",
        "/srv/tls/private.key",
        "/app/config/secrets.yaml",
        "/app/config/secret.json",
        "/app/credentials.json",
        "/home/me/.aws/credentials",
        "/home/me/.docker/config.json",
        "/home/me/.kube/config",
        "/home/me/.npmrc",
        "/home/me/.pypirc",
        "/home/me/.netrc",
        "C:\\Users\\me\\_netrc",
        "/home/me/.git-credentials",
        "/infra/terraform.tfstate",
        "/infra/terraform.tfstate.backup",
        "/infra/prod.tfvars",
        "/etc/nginx/.htpasswd",
        "/home/me/vault.kdbx",
        "/home/me/backup.gpg",
        "/home/me/certs/client.p12",
        "/home/me/Credentials.JSON",
        "/Users/zoe\u0301/Ünïcødé dir/id_rsa",  # NFD, as macOS spells names
        "/home/me/.config/gh/hosts.yml",
    ],
)
def test_files_that_hold_secrets_by_name_are_denied(path: str) -> None:
    assert privacy.is_denied(path)


@pytest.mark.parametrize(
    "path",
    [
        "/home/me/project/app.py",
        "/home/me/project/environment.py",
        "/home/me/project/.envoy/config.yaml",
        "/home/me/project/src/CredentialsProvider.java",
        "/home/me/project/secretary.py",
        "/home/me/project/config.json",
        "/home/me/project/keyboard.c",
        "/home/me/.docker/daemon.json",
        "C:\\Users\\me\\project\\main.rs",
    ],
)
def test_ordinary_files_are_not_denied(path: str) -> None:
    assert not privacy.is_denied(path)


def test_user_globs_add_to_the_defaults() -> None:
    extra = privacy.validate_globs(["private/**", "*.local.json", "/abs/notes/*.txt", "  x.cfg "])
    assert extra[-1] == "x.cfg"
    assert privacy.is_denied("/work/app/private/plan.md", extra)
    assert privacy.is_denied("C:\\work\\app\\Private\\deep\\plan.md", extra)
    assert privacy.is_denied("/work/app/settings.LOCAL.json", extra)
    assert privacy.is_denied("/abs/notes/a.txt", extra)
    assert not privacy.is_denied("/other/abs/notes/a.txt", extra)
    assert not privacy.is_denied("/work/app/privately.md", extra)
    assert privacy.is_denied("/work/app/.env", extra)  # the defaults still apply


@pytest.mark.parametrize("globs", [[""], ["[z-a]"]])
def test_a_bad_glob_is_refused(globs: list[str]) -> None:
    with pytest.raises(ValueError, match="glob"):
        privacy.validate_globs(globs)


def test_exclude_setting() -> None:
    settings, problems = settings_from_wire({"exclude": ["*.secret", "vault/**"]})
    assert settings.exclude == ("*.secret", "vault/**") and not problems
    settings, problems = settings_from_wire({"exclude": "*.secret"})
    assert settings.exclude == () and "exclude" in problems[0]
    settings, _ = settings_from_wire({"exclude": None}, Settings(exclude=("a",)))
    assert settings.exclude == ()


def test_context_comes_only_from_allowed_files_in_the_workspace(tmp_path: Path) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    (outside / "helpers.py").write_text("x = 1\n")
    (workspace / "notes.py").symlink_to(outside / "helpers.py")  # a link out of the workspace
    (workspace / ".env").write_text("A=1\n")
    (workspace / "settings.py").symlink_to(workspace / ".env")  # a link to a denied file
    roots = [str(workspace)]
    assert privacy.may_be_context(str(workspace / "lib" / "helpers.py"), roots)
    assert not privacy.may_be_context(str(outside / "helpers.py"), roots)
    assert not privacy.may_be_context(str(workspace / "notes.py"), roots)
    assert not privacy.may_be_context(str(workspace / "settings.py"), roots)
    assert not privacy.may_be_context(str(workspace / ".env"), roots)
    assert not privacy.may_be_context(str(workspace / "a.py"), roots, ["a.py"])
    assert not privacy.may_be_context(str(workspace / "a.py"), [])  # no workspace: no context
    assert not privacy.may_be_context(str(tmp_path / "wsx" / "a.py"), roots)  # a prefix only


def test_paths_with_escapes_are_followed_like_the_files_they_name(tmp_path: Path) -> None:
    """pygls leaves %-escapes in paths: ``my%20ws`` is the folder ``my ws``."""
    workspace = tmp_path / "my ws"
    workspace.mkdir()
    (workspace / "link.py").symlink_to(tmp_path / "elsewhere.py")
    roots = [str(tmp_path / "my%20ws")]
    assert privacy.may_be_context(str(tmp_path / "my%20ws" / "helpers.py"), roots)
    assert not privacy.may_be_context(str(tmp_path / "my%20ws" / "link.py"), roots)


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_secret_shape_is_found_and_its_line_redacted(kind: str) -> None:
    text = f"import os\n{SECRETS[kind]}\nprint(1)\n"
    assert privacy.secret_lines(text) == {1}
    lines = privacy.redact_lines(text).split("\n")
    assert [lines[0], lines[1].strip(), *lines[2:]] == ["import os", "[redacted]", "print(1)", ""]


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_code_is_not_taken_for_a_secret(line: str) -> None:
    assert privacy.secret_spans(line + "\n") == []


def test_no_secret_found_in_ordinary_source_files() -> None:
    """The benchmark corpus (CPython, npm, llama.cpp sources) and this package's own code."""
    files = [*(REPO / "bench" / "corpus").glob("*.txt"), *(REPO / "lsp_fim").rglob("*.py")]
    files.remove(REPO / "lsp_fim" / "privacy.py")
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert [text[a:b] for a, b in privacy.secret_spans(text)] == [], path


PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBLEAKPEMMARKERxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


def test_a_pem_block_is_redacted_line_for_line() -> None:
    text = f'KEY = """\n{PEM}\n"""\nx = 1\n'
    redacted = privacy.redact_lines(text)
    assert "LEAKPEMMARKER" not in redacted and "BEGIN" not in redacted
    assert redacted.split("\n") == ['KEY = """', *["[redacted]"] * 4, '"""', "x = 1", ""]


def test_a_pem_block_cut_off_by_the_window_is_redacted_to_the_end() -> None:
    text = "x = 1\n" + PEM.rsplit("\n", 1)[0]
    assert privacy.secret_lines(text) == {1, 2, 3}


def test_redaction_moves_the_cursor_and_keeps_lines_and_indentation() -> None:
    text = f'def f():\r\n    token = "{GITHUB}"\r\n    return g(\r\n'
    offset = text.index("g(")
    redacted = privacy.redact_at(text, offset)
    assert redacted is not None
    new_text, new_offset = redacted
    assert new_text == "def f():\r\n    [redacted]\r\n    return g(\r\n"
    assert new_text[new_offset:] == text[offset:]


def test_lone_carriage_returns_stay_line_breaks() -> None:
    """LSP counts a lone \\r as a line break: the editor's lines must not move."""
    text = f"a = 1\r{SECRETS['github']}\nb = 2\n"
    new_text, new_offset = privacy.redact_at(text, text.index("b")) or ("", 0)
    assert new_text == "[redacted]\r\nb = 2\n" and new_text[new_offset] == "b"


def test_no_suggestion_with_the_cursor_on_a_secret_line() -> None:
    text = "a = 1\nDB_PASSWORD = 'hunter22hunter'\nb = 2\n"
    assert privacy.redact_at(text, text.index("hunter")) is None
    assert privacy.redact_at(text, 0) is not None and privacy.redact_at(text, len(text))


def test_text_without_secrets_is_the_same_object() -> None:
    text = "x = 1\n" * 100
    assert privacy.redact_at(text, 5) == (text, 5)
    assert privacy.redact_lines(text) is text


def test_secrets_are_redacted_in_place_in_json_escaped_log_text() -> None:
    message = "Sending data: " + json.dumps(
        {"result": {"items": [{"insertText": f"x = 1\n{SECRETS['yaml password']}\n{PEM}\n"}]}}
    )
    message += " " + json.dumps({"text": f'pw = "x"\nDB_PASSWORD="hunter22hunter"\n{GITHUB}'})
    redacted = privacy.redact_spans(message)
    for leak in ("s3cr3tP4ss", "LEAKPEMMARKER", "hunter22hunter", GITHUB):
        assert leak not in redacted
    assert redacted.startswith('Sending data: {"result": {"items": [{"insertText": "x = 1\\n')
    assert "[redacted]" in redacted


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.getLogger("pygls").setLevel(logging.NOTSET)


def test_the_log_file_is_the_users_alone_and_redacted(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    log_file = tmp_path / "lsp-fim.log"
    old = os.umask(0o022)
    try:
        setup_logging(str(log_file), verbose=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    logging.getLogger("lsp_fim.test").info("engine said %s", f'{{"key": "{AWS_ID}"}}')
    logging.getLogger("pygls.protocol").info("Sending data: %s", "suggestion text")
    try:
        raise ValueError(f"bad token {GITHUB}")
    except ValueError:
        logging.getLogger("lsp_fim.test").exception("failed")
    log = log_file.read_text(encoding="utf-8")
    assert AWS_ID not in log and GITHUB not in log and "engine said" in log
    assert "ValueError: bad token [redacted]" in log
    assert "suggestion text" not in log  # pygls's message bodies only at -v


def test_an_existing_log_file_is_made_private(tmp_path: Path, root_logger: logging.Logger) -> None:
    log_file = tmp_path / "old.log"
    log_file.write_text("before\n")
    log_file.chmod(0o644)
    setup_logging(str(log_file), verbose=True)
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    logging.getLogger("pygls.protocol").info("Sending data: %s", "suggestion text")
    assert log_file.read_text(encoding="utf-8").startswith("before\n")
    assert "suggestion text" in log_file.read_text(encoding="utf-8")


def test_the_filter_redacts_records_with_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s and %d", (AWS_ID, 3), None)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == "got [redacted] and 3"


def test_a_secret_in_a_very_long_line_is_found_where_ever_it_lies() -> None:
    """Long lines are searched a piece at a time (the GIL): a name across a piece boundary
    and an assignment deep in a minified line are found all the same."""
    from lsp_fim.privacy import SCAN_PIECE_CHARS, secret_lines

    for at in (10, SCAN_PIECE_CHARS - 4, SCAN_PIECE_CHARS + 3, 3 * SCAN_PIECE_CHARS - 7):
        line = "x" * at + ';password = "hunter22Hunter";' + "y" * 200_000
        assert secret_lines("a = 1\n" + line + "\nb = 2\n") == frozenset({1}), at
    assert secret_lines("z" * 300_000) == frozenset()
