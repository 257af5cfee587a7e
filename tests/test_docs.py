"""Every environment variable the code reads is documented in the README and .env.sample."""

import re
import subprocess
import textwrap
from pathlib import Path

from localazure.services import PROJECT_DIR
from tests.helpers import gunicorn_setting

CODE = ["azureproject", "restaurant_review", "gunicorn.conf.py", "start.sh"]
# Read by libraries, not by our code, or set by the platform for the identity SDK.
NOT_OURS = {"DJANGO_SETTINGS_MODULE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "PYTHON"}


def variables_read_by_code() -> set[str]:
    names: set[str] = set()
    for entry in CODE:
        path = PROJECT_DIR / entry
        files = path.rglob("*.py") if path.is_dir() else [path]
        for file in files:
            text = file.read_text()
            names |= set(
                re.findall(r"env(?:iron)?(?:\.get)?\(?\[?\s*[\"']([A-Z][A-Z0-9_]+)[\"']", text)
            )
            names |= set(re.findall(r'env(?:_flag|_int)?\(env,\s*"([A-Z][A-Z0-9_]+)"', text))
            names |= set(re.findall(r'require\(env,\s*"([A-Z][A-Z0-9_]+)"', text))
            names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text))
    return names - NOT_OURS


def env_sample_names() -> set[str]:
    text = (PROJECT_DIR / ".env.sample").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.M))


def readme_table_names() -> set[str]:
    text = (PROJECT_DIR / "docs" / "configuration.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.M))


def test_readme_table_matches_env_sample() -> None:
    assert readme_table_names() == env_sample_names()


def test_every_variable_the_code_reads_is_documented() -> None:
    read = variables_read_by_code()
    assert {"DBHOST", "SECRET_KEY", "STORAGE_ACCOUNT_NAME", "PORT"} <= read  # the scan works
    assert read - env_sample_names() == set()


def test_readme_starts_with_the_run_and_test_commands() -> None:
    text = (PROJECT_DIR / "README.md").read_text()
    blocks = [textwrap.dedent(block) for block in re.findall(r"```sh\n(.*?)\n\s*```", text, re.S)]
    assert blocks[0] == "./start.sh"
    assert "seed_demo" in blocks[1] and "createsuperuser" in blocks[1]
    assert blocks[2] == "./run-tests.sh"
    assert len(text.splitlines()) < 120  # the reference lives in docs/
    assert "./run-tests.sh" in (PROJECT_DIR / ".ci" / "run").read_text()


def test_layout_doc_names_every_file_and_module() -> None:
    """docs/layout.md keeps up with the tree: every tracked top-level entry, and every
    module of azureproject/ and restaurant_review/, is named there."""
    layout = (PROJECT_DIR / "docs" / "layout.md").read_text()
    named = set(re.findall(r"`([^`]+)`", layout))
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.split()
    top = {name.split("/")[0] + ("/" if "/" in name else "") for name in tracked}
    assert {entry for entry in top if not any(n.startswith(entry) for n in named)} == set()
    modules = {
        Path(name).name
        for name in tracked
        if name.startswith(("azureproject/", "restaurant_review/"))
        and name.endswith(".py")
        and "/migrations/" not in name
        and not name.endswith("__init__.py")
    }
    assert len(modules) > 20  # the scan works
    assert modules - named == set()


def test_documented_timeouts_are_the_codes() -> None:
    """Each timeout the docs promise is the one the code has: a changed constant fails here
    until its sentence is changed too."""
    from django.conf import settings

    from azureproject import cache, credential, storage
    from azureproject.config import database_settings
    from azureproject.postgresql.base import CONNECT_TIMEOUT_SECONDS
    from azureproject.serving import buffering_worker

    pooled = database_settings(
        {"DBHOST": "h", "DBNAME": "n", "DBUSER": "u", "DB_POOL": "1"},
        base_dir=PROJECT_DIR,
        azure=False,
    )
    kept = database_settings(
        {"DBHOST": "h", "DBNAME": "n", "DBUSER": "u"}, base_dir=PROJECT_DIR, azure=False
    )
    token = credential.TOKEN_REQUEST_OPTIONS
    blob = storage.RETRY_OPTIONS
    promises = [
        ("azure.md", rf"token requests have {token['connection_timeout']}-s connect and "
         rf"{token['read_timeout']}-s read timeouts\s+and one retry", token["retry_total"] == 1),
        ("azure.md", rf"no valid token waits at most {credential.TOKEN_WAIT_SECONDS} s", True),
        ("azure.md", rf"connections time out after {CONNECT_TIMEOUT_SECONDS} s "
         r"\(`connect_timeout`\)", True),
        ("azure.md", rf"`DB_POOL_TIMEOUT` \({pooled['OPTIONS']['pool']['timeout']} s\)", True),
        ("azure.md", rf"Blob Storage slow or frozen\*\*: {blob['read_timeout']}-s timeouts",
         blob["connection_timeout"] == blob["read_timeout"] and blob["retry_total"] == 1),
        ("azure.md", rf"gunicorn's {gunicorn_setting('timeout')}-s timeout", True),
        ("caching.md", rf"Connect and read timeouts are {cache.CONNECT_TIMEOUT:g} s and "
         rf"{cache.SOCKET_TIMEOUT:g} s", True),
        ("caching.md", rf"for {cache.RETRY_SECONDS} s no request waits on Redis", True),
        ("features.md", rf"waits more than {settings.PHOTO_DECODE_WAIT_SECONDS} s "
         "for its turn", True),
        ("features.md", rf"headers within {buffering_worker.HEADER_SECONDS:g} s, no pause over "
         rf"{buffering_worker.IDLE_SECONDS:g} s in a body", True),
        ("scale-out.md", rf"`DB_CONN_MAX_AGE` \({kept['CONN_MAX_AGE']} s\)", True),
    ]  # fmt: skip
    for doc, sentence, details_match in promises:
        text = re.sub(r"\s+", " ", (PROJECT_DIR / "docs" / doc).read_text())
        assert re.search(sentence.replace(r"\s+", " "), text), (
            f"docs/{doc} no longer says: {sentence}"
        )
        assert details_match, f"docs/{doc}: {sentence}: the code's other figures differ"
