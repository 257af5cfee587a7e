"""Runs az calls through the real Azure CLI, signed out, and reports how far each one got.

Run by the Azure CLI's own Python (its virtual environment in the tests' cache), not the
project's: `python az_parser_check.py CALLS.json RESULTS.json`, CALLS a JSON list of argv lists.
Every call goes through `az`'s own entry (`get_default_cli().invoke`), in one process so the
command table is loaded once: its parser and validators run as for `az ...` in a shell, then a
call with the right arguments stops at "Please run 'az login'". What each call printed (to
stdout or stderr, captured at the file descriptors) and its exit code go to RESULTS.
"""

import json
import os
import sys
import tempfile

from azure.cli.core import get_default_cli


def invoke(argv: list[str]) -> tuple[int, str]:
    with tempfile.TemporaryFile(mode="w+") as captured:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            try:
                code = get_default_cli().invoke(argv)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        captured.seek(0)
        return code, captured.read()


def main() -> None:
    calls_path, results_path = sys.argv[1:3]
    with open(calls_path) as calls_file:
        calls = json.load(calls_file)
    results = []
    for argv in calls:
        code, output = invoke(argv)
        results.append({"argv": argv, "code": code, "output": output})
    with open(results_path, "w") as results_file:
        json.dump(results, results_file)


if __name__ == "__main__":
    main()
