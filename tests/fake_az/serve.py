"""The fake Azure CLI's server: runs az.py for each call that the `az` on PATH (a few lines of
bash) hands it over loopback, and answers with the exit code, stderr and stdout.

One process runs every call of a run of a script (started by tests/test_deploy.py:run_script)
rather than a Python started for each (docs/testing.md). It prints its port, then serves one
call at a time, as a script makes them, until it is stopped.

A call is sent as NUL-terminated fields: the number of arguments, the caller's folder, then the
arguments. The answer is "STATUS LENGTH\\n", LENGTH bytes of stderr, then stdout to the end.
"""

import contextlib
import io
import os
import socket
import sys
import traceback

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "az.py")
with open(SCRIPT) as source:
    CODE = compile(source.read(), SCRIPT, "exec")


def read_call(connection: socket.socket) -> tuple[str, list[str]]:
    received = b""
    while True:
        fields = received.split(b"\0")
        if len(fields) > 2 and len(fields) - 1 >= int(fields[0]) + 2:
            break
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the call ended before its arguments")
        received += chunk
    count = int(fields[0])
    folder, *args = (field.decode() for field in fields[1 : count + 2])
    return folder, args


def run(folder: str, args: list[str]) -> tuple[int, str, str]:
    """az.py run as `az ARGS` from `folder`: its exit status, stderr and stdout."""
    out, err = io.StringIO(), io.StringIO()
    status = 0
    os.chdir(folder)
    sys.argv = ["az", *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(CODE, {"__name__": "__main__", "__file__": SCRIPT})
        except SystemExit as stop:
            status = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        except Exception:
            traceback.print_exc()
            status = 1
    return status, err.getvalue(), out.getvalue()


def main() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    sys.stdout.write(f"{listener.getsockname()[1]}\n")
    sys.stdout.flush()
    while True:
        connection, _ = listener.accept()
        with connection:
            status, err, out = run(*read_call(connection))
            message = err.encode()
            connection.sendall(b"%d %d\n" % (status, len(message)) + message + out.encode())


if __name__ == "__main__":
    main()
