"""The real Azure CLI (azure-cli from PyPI, in its own virtual environment in the tests' cache,
installed by run-tests.sh), to check that every call deploy.sh makes is one it accepts.

Nobody is signed in, so a call whose command exists and whose arguments are right stops at the
sign-in check ("Please run 'az login'"); a refused one stops earlier with the parser's error.
All its traffic goes to a closed port on loopback (a proxy that is not there), its telemetry is
off and its configuration is a fresh folder.
"""

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from localazure.services import PROJECT_DIR, free_port


def pinned_version(name: str) -> str:
    """A tool's version as run-tests.sh pins it (NAME_VERSION="x.y.z"), where it installs it."""
    text = (PROJECT_DIR / "run-tests.sh").read_text()
    found = re.search(rf'^{name}_VERSION="([^"]+)"', text, re.MULTILINE)
    assert found, f"run-tests.sh pins no {name}_VERSION"
    return found.group(1)


AZURE_CLI_VERSION = pinned_version("AZURE_CLI")
AZURE_CLI_VENV = PROJECT_DIR / ".ci" / "cache" / f"azure-cli-{AZURE_CLI_VERSION}"
SIGN_IN_CHECK = "Please run 'az login'"
# Options whose value is a file az reads while parsing (and `@file` anywhere).
FILE_OPTIONS = {"--file", "--src-path"}


def find_azure_cli() -> Path | None:
    python = AZURE_CLI_VENV / "bin" / "python"
    return python if (AZURE_CLI_VENV / ".installed").exists() and python.exists() else None


@dataclass
class Outcome:
    argv: list[str]
    code: int
    output: str

    @property
    def reached_sign_in(self) -> bool:
        return self.code == 1 and SIGN_IN_CHECK in self.output


def with_placeholder_files(argv: list[str], folder: Path) -> list[str]:
    """The call with each file it names (a temporary one deploy.sh has since removed) replaced
    by a placeholder of the same kind, so the parser finds a file to read."""
    placeholders = []
    for index, arg in enumerate(argv):
        if arg.startswith("@") and index > 0:
            path = folder / f"file-{index}.json"
            settings = argv[index - 1] == "--settings"
            path.write_text(
                '[{"name": "PLACEHOLDER", "value": "1", "slotSetting": false}]'
                if settings
                else "[]"
            )
            arg = f"@{path}"
        elif index > 0 and argv[index - 1] in FILE_OPTIONS:
            path = folder / f"file-{index}{Path(arg).suffix}"
            path.write_bytes(b"placeholder")
            arg = str(path)
        placeholders.append(arg)
    return placeholders


def through_real_cli(python: Path, calls: list[list[str]], folder: Path) -> list[Outcome]:
    folder.mkdir(parents=True, exist_ok=True)
    calls_file, results_file = folder / "calls.json", folder / "results.json"
    calls_file.write_text(json.dumps([with_placeholder_files(c, folder) for c in calls]))
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    check = Path(__file__).with_name("az_parser_check.py")
    subprocess.run(
        [str(python), str(check), str(calls_file), str(results_file)],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(folder),
            "AZURE_CONFIG_DIR": str(folder / "azure-config"),
            "AZURE_CORE_COLLECT_TELEMETRY": "no",
            "AZURE_CORE_NO_COLOR": "yes",
            "HTTPS_PROXY": dead_proxy,
            "HTTP_PROXY": dead_proxy,
        },
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=300,
    )
    return [Outcome(**result) for result in json.loads(results_file.read_text())]
