"""The process-wide credential under a slow or frozen identity endpoint: bounded waits, a valid
token never held up by a refresh, one refresh in flight, and recovery. The real
ManagedIdentityCredential runs against the test identity endpoint."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError

from azureproject.credential import SharedCredential
from localazure.identity import IdentityEndpoint
from localazure.services import wait_until

SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
CLIENT_ID = "app-client-credential-test"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityEndpoint]:
    endpoint = IdentityEndpoint(client_ids={CLIENT_ID}, lifetime=8).start()
    for name, value in endpoint.env.items():
        monkeypatch.setenv(name, value)
    yield endpoint
    endpoint.thaw()
    endpoint.stop()


def credential(**overrides: Any) -> SharedCredential:
    options = {
        "client_id": CLIENT_ID,
        "managed_identity_only": True,
        "wait_seconds": 1,
        **overrides,
    }
    return SharedCredential(**options)


def timed(call: Any) -> tuple[float, Any]:
    start = time.monotonic()
    try:
        result = call()
    except Exception as exc:
        result = exc
    return time.monotonic() - start, result


def test_frozen_endpoint_without_a_token_fails_fast_for_every_caller(
    endpoint: IdentityEndpoint,
) -> None:
    shared = credential()
    endpoint.freeze()
    results: list[tuple[float, Any]] = []

    def call() -> None:
        results.append(timed(lambda: shared.get_token(SCOPE)))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 8
    assert all(isinstance(result, ClientAuthenticationError) for _, result in results)
    assert max(seconds for seconds, _ in results) < 2  # wait_seconds is 1
    assert endpoint.arrivals == 1  # one refresh in flight, shared by all eight
    # Still frozen: the next caller does not queue a second request behind the first.
    seconds, result = timed(lambda: shared.get_token(SCOPE))
    assert isinstance(result, ClientAuthenticationError) and seconds < 2
    assert endpoint.arrivals == 1
    # Back: once the stuck request has given up (read timeout), the next caller gets a token.
    endpoint.thaw()
    wait_until(
        lambda: not isinstance(timed(lambda: shared.get_token(SCOPE))[1], Exception),
        what="a token after the endpoint is back",
    )


def test_a_valid_token_is_handed_out_at_once_while_its_refresh_hangs(
    endpoint: IdentityEndpoint,
) -> None:
    shared = credential()
    first = shared.get_token(SCOPE)
    assert endpoint.arrivals == 1
    # Past halfway to expiry a refresh is due (3.5 s or more before it: the token lives 8 s,
    # whole seconds), and the token stays usable until 1 s before it (EXPIRY_MARGIN_SECONDS).
    # The endpoint is frozen for longer than the token lives.
    wait_until(lambda: time.time() > first.expires_on - 3.4, what="a refresh being due")
    endpoint.freeze()
    for _ in range(5):
        seconds, token = timed(lambda: shared.get_token(SCOPE))
        # A caller that waited for the hung refresh would take wait_seconds (1 s) at least.
        assert seconds < 1 and token.token == first.token
    wait_until(lambda: endpoint.arrivals == 2, what="the refresh reaching the endpoint")
    assert shared.get_token(SCOPE).token == first.token
    assert endpoint.arrivals == 2  # one refresh started, and only one
    # Once the token has expired, callers wait a bounded time and fail.
    wait_until(lambda: time.time() > first.expires_on, what="the token's expiry")
    seconds, result = timed(lambda: shared.get_token(SCOPE))
    assert isinstance(result, ClientAuthenticationError) and seconds < 2
    endpoint.thaw()
    wait_until(
        lambda: not isinstance(timed(lambda: shared.get_token(SCOPE))[1], Exception),
        what="a token after the endpoint is back",
    )
    assert shared.get_token(SCOPE).token != first.token


def test_a_hung_token_request_gives_up_within_seconds(endpoint: IdentityEndpoint) -> None:
    """However long the endpoint stays frozen, a token request gives up within seconds
    (connect and read timeouts, one retry), so the next caller can start a new one: a hung
    refresh does not block refreshes for good."""
    shared = credential()
    endpoint.freeze()
    start = time.monotonic()
    assert isinstance(timed(lambda: shared.get_token(SCOPE))[1], ClientAuthenticationError)
    first_attempts = 2  # the request and its one retry

    def new_request_started() -> bool:
        timed(lambda: shared.get_token(SCOPE))
        return endpoint.arrivals > first_attempts

    wait_until(new_request_started, what="a new token request", timeout=20)
    assert time.monotonic() - start < 12
