"""deploy.sh against a fake `az` that records its calls: the right resources, flags and order,
no secrets printed, and nothing created twice."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.services import PROJECT_DIR

FAKE_AZ = PROJECT_DIR / "tests" / "fake_az"


def deploy(tmp_path: Path, **env: str) -> tuple[list[list[str]], str]:
    log = tmp_path / "az-calls.jsonl"
    log.unlink(missing_ok=True)
    result = subprocess.run(
        ["bash", str(PROJECT_DIR / "deploy.sh")],
        cwd=PROJECT_DIR,
        env={
            "PATH": f"{FAKE_AZ}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "FAKE_AZ_LOG": str(log),
            "FAKE_AZ_STATE": str(tmp_path / "az-state.json"),
            "APP_NAME": "my-reviews",
            "DEPLOYER_IP": "203.0.113.7",
            # The grant runs the app's own command; a fake records it beside the az calls.
            "PYTHON": str(FAKE_AZ / "fake-python"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [
        json.loads(line) for line in log.read_text().splitlines()
    ], result.stdout + result.stderr


def index_of(calls: list[list[str]], *words: str) -> int:
    for index, call in enumerate(calls):
        if all(word in call for word in words):
            return index
    raise AssertionError(f"no az call with {words}")


def call(calls: list[list[str]], *words: str) -> list[str]:
    return calls[index_of(calls, *words)]


def value(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1]


def app_settings(calls: list[list[str]]) -> dict[str, str]:
    """The settings `az webapp config appsettings set` was given, read from its @file."""
    index = index_of(calls, "appsettings", "set")
    assert value(calls[index], "--settings").startswith("@")
    recorded = calls[index + 1]
    assert recorded[0] == "@settings"
    return dict(pair.split("=", 1) for pair in recorded[1:])


def test_first_deploy_creates_everything_in_order(tmp_path: Path) -> None:
    calls, output = deploy(tmp_path)
    order = [
        index_of(calls, "group", "create"),
        index_of(calls, "identity", "create"),
        index_of(calls, "flexible-server", "create", "--tier"),
        index_of(calls, "db", "create"),
        index_of(calls, "flexible-server", "parameter", "set"),
        index_of(calls, "microsoft-entra-admin", "create"),
        index_of(calls, "storage", "account", "create"),
        index_of(calls, "container-rm", "create"),
        index_of(calls, "role", "assignment", "create"),
        index_of(calls, "firewall-rule", "create"),
        index_of(calls, "python", "grant_identity_access"),
        index_of(calls, "firewall-rule", "delete"),
        index_of(calls, "appservice", "plan", "create"),
        index_of(calls, "webapp", "create"),
        index_of(calls, "webapp", "identity", "assign"),
        index_of(calls, "appsettings", "set"),
        index_of(calls, "webapp", "config", "set", "--startup-file"),
        index_of(calls, "webapp", "deploy"),
    ]
    assert order == sorted(order)

    server = call(calls, "flexible-server", "create", "--tier")
    assert value(server, "--microsoft-entra-auth") == "Enabled"
    assert value(server, "--password-auth") == "Disabled"
    account = call(calls, "storage", "account", "create")
    assert value(account, "--allow-shared-key-access") == "false"
    assert value(account, "--allow-blob-public-access") == "false"
    assert value(call(calls, "container-rm", "create"), "--public-access") == "off"
    role = call(calls, "role", "assignment", "create")
    assert value(role, "--role") == "Storage Blob Data Contributor"
    assert value(role, "--assignee-object-id") == "22222222-0000-4000-8000-00000000b0b0"
    extensions = call(calls, "flexible-server", "parameter", "set")
    assert (value(extensions, "--name"), value(extensions, "--value")) == (
        "azure.extensions",
        "PG_TRGM",
    )
    admin = call(calls, "microsoft-entra-admin", "create")
    assert value(admin, "--display-name") == "deployer@contoso.example"

    # The role and the schema grant: the app's own command (SQL quoted by psycopg), as the
    # deployer, whose token comes from their az sign-in inside it: none on any command line.
    grant = call(calls, "python", "grant_identity_access")
    assert grant[:3] == ["python", "manage.py", "grant_identity_access"]
    assert value(grant, "--principal") == "my-reviews-identity"
    assert value(grant, "--object-id") == "22222222-0000-4000-8000-00000000b0b0"
    assert {"env:DBHOST=my-reviews-db", "env:DBNAME=restaurant"} <= set(grant)
    assert "env:DBUSER=deployer@contoso.example" in grant
    assert not any(a.startswith(("env:DBPASS", "env:PGPASSWORD")) for a in grant)
    assert not any("get-access-token" in c or "execute" in c for c in calls)
    assert value(call(calls, "firewall-rule", "create"), "--start-ip-address") == "203.0.113.7"

    assert "my-reviews-identity" in value(
        call(calls, "webapp", "identity", "assign"), "--identities"
    )
    settings = app_settings(calls)
    assert settings["AZURE_CLIENT_ID"] == "11111111-0000-4000-8000-00000000c11e"
    assert (settings["DBHOST"], settings["DBNAME"], settings["DBUSER"]) == (
        "my-reviews-db",
        "restaurant",
        "my-reviews-identity",
    )
    assert settings["STORAGE_ACCOUNT_NAME"] == "myreviewsphotos"
    assert (settings["STORAGE_CONTAINER_NAME"], settings["STORAGE_URL_MODE"]) == ("photos", "sas")
    assert len(settings["SECRET_KEY"]) >= 50
    assert not any(
        name.endswith(("PASS", "PASSWORD", "KEY")) and name != "SECRET_KEY" for name in settings
    )

    config = call(calls, "webapp", "config", "set", "--startup-file")
    assert value(config, "--startup-file") == "start.sh"
    assert json.loads(value(config, "--generic-configurations")) == {"healthCheckPath": "/healthz"}
    assert value(call(calls, "webapp", "update"), "--https-only") == "true"
    assert value(call(calls, "webapp", "deploy"), "--type") == "zip"

    assert settings["SECRET_KEY"] not in output
    # Nothing secret on any command line (`ps` shows them): settings go in a file.
    assert not any(settings["SECRET_KEY"] in arg for c in calls if c[0] != "@settings" for arg in c)
    assert not any(arg.startswith("SECRET_KEY=") for c in calls if c[0] != "@settings" for arg in c)
    assert "https://my-reviews.azurewebsites.net" in output


def test_second_deploy_creates_nothing_and_keeps_the_secret_key(tmp_path: Path) -> None:
    deploy(tmp_path)
    calls, _ = deploy(tmp_path)
    created = [
        c
        for c in calls
        if "create" in c and "microsoft-entra-admin" not in c and "firewall-rule" not in c
    ]
    assert created == []
    assert not any("pgaadauth_create_principal_with_oid" in " ".join(c) for c in calls)
    assert "SECRET_KEY" not in app_settings(calls)  # the first one is kept
    assert index_of(calls, "webapp", "deploy") > 0  # the code is still deployed


@pytest.mark.parametrize("public", ["1"])
def test_public_photos_option_makes_the_tutorials_public_container(
    tmp_path: Path, public: str
) -> None:
    calls, _ = deploy(tmp_path, PUBLIC_PHOTOS=public)
    assert (
        value(call(calls, "storage", "account", "create"), "--allow-blob-public-access") == "true"
    )
    assert value(call(calls, "container-rm", "create"), "--public-access") == "blob"
    assert app_settings(calls)["STORAGE_URL_MODE"] == "public"


def test_deploy_without_app_name_stops_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(PROJECT_DIR / "deploy.sh")],
        env={
            "PATH": f"{FAKE_AZ}:{os.environ['PATH']}",
            "FAKE_AZ_LOG": str(tmp_path / "l"),
            "FAKE_AZ_STATE": str(tmp_path / "s"),
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "set APP_NAME" in result.stderr
    assert not (tmp_path / "l").exists()


def test_redis_option_makes_an_entra_only_cache_for_the_identity(tmp_path: Path) -> None:
    calls, output = deploy(tmp_path, REDIS="1")
    cache = call(calls, "redisenterprise", "create")
    assert value(cache, "--access-keys-auth") == "Disabled"  # Microsoft Entra ID only
    assert value(cache, "--clustering-policy") == "EnterpriseCluster"  # one endpoint
    policy = call(calls, "access-policy-assignment", "create")
    assert value(policy, "--object-id") == "22222222-0000-4000-8000-00000000b0b0"
    assert value(policy, "--access-policy-name") == "default"
    order = [
        index_of(calls, "identity", "create"),
        index_of(calls, "redisenterprise", "create"),
        index_of(calls, "access-policy-assignment", "create"),
        index_of(calls, "appsettings", "set"),
    ]
    assert order == sorted(order)
    settings = app_settings(calls)
    assert settings["REDIS_HOST"] == "my-reviews-cache.eastus.redis.azure.net"
    assert not any("key" in name.lower() and name != "SECRET_KEY" for name in settings)
    assert not any("list-keys" in c or "keys" in c for c in calls)
    # Again: nothing created twice; and without REDIS=1 no cache at all.
    again, _ = deploy(tmp_path, REDIS="1")
    assert not [c for c in again if "redisenterprise" in c and "create" in c]
    assert app_settings(again)["REDIS_HOST"] == settings["REDIS_HOST"]
    (tmp_path / "plain").mkdir()
    plain, _ = deploy(tmp_path / "plain")
    assert not [c for c in plain if "redisenterprise" in c]
    assert "REDIS_HOST" not in app_settings(plain)
