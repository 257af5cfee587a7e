"""Admin login throttling (django-axes), with the client address read the right way."""

import logging
from http import HTTPStatus
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from pytest_django.asserts import assertContains

from azureproject.client_ip import client_ip

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
RIGHT = "Right-pass-" + "2026!"


def attempt(client: Client, password: str, *, address: str, username: str = "boss") -> Any:
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def test_five_wrong_passwords_lock_that_username_from_that_address_only(
    django_user_model: Any, caplog: Any
) -> None:
    django_user_model.objects.create_superuser("boss", "b@example.com", RIGHT)
    caplog.set_level(logging.INFO)
    attacker = Client()
    answers = [attempt(attacker, f"guess-{n}", address="203.0.113.9").status_code for n in range(5)]
    assert answers == [200, 200, 200, 200, HTTPStatus.TOO_MANY_REQUESTS]  # locked at the fifth
    locked = attempt(attacker, RIGHT, address="203.0.113.9")  # even the right password
    assertContains(
        locked, "Too many failed sign-ins (429)", status_code=HTTPStatus.TOO_MANY_REQUESTS
    )
    # The real admin, elsewhere, is not locked out by the attacker.
    assert attempt(Client(), RIGHT, address="198.51.100.4").status_code == HTTPStatus.FOUND
    # Each failure is one line, with the username and address, never the password.
    failures = [r for r in caplog.records if r.getMessage().startswith("Failed login")]
    assert len(failures) == 6  # five wrong passwords, and the right one refused while locked
    assert failures[0].getMessage() == "Failed login for username 'boss' from 203.0.113.9"
    assert "guess-" not in caplog.text and RIGHT not in caplog.text
    # An administrator unlocks it at once.
    call_command("axes_reset", stdout=None)
    assert attempt(attacker, RIGHT, address="203.0.113.9").status_code == HTTPStatus.FOUND


def test_client_address_behind_app_service_is_the_entry_its_front_end_appends(
    settings: Any,
) -> None:
    factory = RequestFactory()
    forwarded = {"REMOTE_ADDR": "169.254.129.3"}
    settings.AZURE_MODE = True
    for header, expected in [
        ("203.0.113.7:51234", "203.0.113.7"),  # how App Service's front end sends it
        # An IPv6 visitor is their /64, the block one home or phone gets: a port sent without
        # brackets, or another address in the block, is still the same visitor.
        ("10.0.0.1, [2001:db8::1]:443", "2001:db8::"),
        ("2001:db8::1:51234", "2001:db8::"),
        ("2001:db8::1:5123", "2001:db8::"),
        ("2001:db8::2", "2001:db8::"),
        ("[2001:db8:0:1::5]:80", "2001:db8:0:1::"),
        ("203.0.113.8", "203.0.113.8"),
        ("::ffff:203.0.113.11", "203.0.113.11"),
        # What the client wrote itself comes first: never believed.
        ("198.51.100.4, 203.0.113.9:50000", "203.0.113.9"),
        ("198.51.100.4:1,198.51.100.5 , 203.0.113.10:2", "203.0.113.10"),
    ]:
        request = factory.get("/", HTTP_X_FORWARDED_FOR=header, **forwarded)
        assert client_ip(request) == expected
    # Outside App Service any client could send the header: it is not believed.
    settings.AZURE_MODE = False
    request = factory.get("/", HTTP_X_FORWARDED_FOR="203.0.113.7:51234", REMOTE_ADDR="192.0.2.1")
    assert client_ip(request) == "192.0.2.1"


def test_a_forged_forwarded_entry_neither_escapes_nor_causes_a_lockout(
    django_user_model: Any, settings: Any
) -> None:
    """In Azure mode the client writes the start of X-Forwarded-For; App Service's front end
    appends the real address. Varying the first entry does not dodge the lock, and naming
    the admin's address there does not lock the admin out."""
    settings.AZURE_MODE = True
    django_user_model.objects.create_superuser("boss", "b@example.com", RIGHT)

    def login(password: str, header: str) -> int:
        return (
            Client()
            .post(
                LOGIN,
                {"username": "boss", "password": password, "next": "/admin/"},
                HTTP_X_FORWARDED_FOR=header,
                REMOTE_ADDR="169.254.129.3",
            )
            .status_code
        )

    attacker, admin = "203.0.113.66:40000", "198.51.100.4:50000"
    answers = [login(f"guess-{n}", f"192.0.2.{n}, {attacker}") for n in range(5)]
    assert answers[-1] == HTTPStatus.TOO_MANY_REQUESTS  # locked despite the varied entries
    for n in range(5):
        login(f"guess-{n}", f"198.51.100.4, {attacker}")  # posing as the admin's address
    assert login(RIGHT, admin) == HTTPStatus.FOUND  # the real admin still gets in


def test_password_spraying_across_usernames_locks_the_address_not_the_admin(
    django_user_model: Any, caplog: Any
) -> None:
    """A few passwords for each of many usernames never reaches the per-username lock; every
    failure from one address counts toward a limit across usernames (20 per 15 minutes)."""
    django_user_model.objects.create_superuser("boss", "b@example.com", RIGHT)
    sprayer = Client()
    answers = [
        attempt(sprayer, "Summer2026!", address="203.0.113.50", username=f"user{n}").status_code
        for n in range(21)
    ]
    assert answers[:20] == [200] * 20 and answers[20] == HTTPStatus.TOO_MANY_REQUESTS
    # Now nothing from that address signs in, the right password included.
    locked = attempt(sprayer, RIGHT, address="203.0.113.50")
    assertContains(locked, "Too many failed sign-ins (429)", status_code=429)
    # The real admin, elsewhere, is not locked out by the sprayer.
    assert attempt(Client(), RIGHT, address="198.51.100.4").status_code == HTTPStatus.FOUND
