"""deploy.sh against a fake `az` that records its calls: the right resources, flags and order,
no secrets printed, and nothing created twice."""

import json
import os
import subprocess
import sys
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
            # The fakes' python3 straight from this interpreter's folder, not a version
            # manager's shim: some seventy az calls start it.
            "PATH": f"{FAKE_AZ}:{Path(sys.executable).parent}:{os.environ['PATH']}",
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


REFERENCE = "@Microsoft.KeyVault(SecretUri=https://my-reviews-kv.vault.azure.net/secrets/django-secret-key/)"


def stored_secret(calls: list[list[str]]) -> str:
    """The value `az keyvault secret set` read from its --file (recorded by the fake)."""
    index = index_of(calls, "keyvault", "secret", "set")
    assert calls[index + 1][0] == "@secretfile"
    return calls[index + 1][1]


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
    assert settings["SECRET_KEY"] == REFERENCE
    assert not any(
        name.endswith(("PASS", "PASSWORD", "KEY")) and name != "SECRET_KEY" for name in settings
    )

    config = call(calls, "webapp", "config", "set", "--startup-file")
    assert value(config, "--startup-file") == "start.sh"
    assert json.loads(value(config, "--generic-configurations")) == {"healthCheckPath": "/healthz"}
    assert value(call(calls, "webapp", "update", "--https-only"), "--https-only") == "true"
    assert value(call(calls, "webapp", "deploy"), "--type") == "zip"

    # The secret itself went to Key Vault through a file: never printed, on no command line.
    secret = stored_secret(calls)
    assert len(secret) >= 50 and secret not in output
    assert not any(secret in arg for c in calls if not c[0].startswith("@") for arg in c)
    assert "https://my-reviews.azurewebsites.net" in output
    # No Redis unless asked for (REDIS=1): it costs by the hour.
    assert not [c for c in calls if "redisenterprise" in c] and "REDIS_HOST" not in settings


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
    assert not any("keyvault" in c and "set" in c for c in calls)  # the first one is kept
    assert app_settings(calls)["SECRET_KEY"] == REFERENCE
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


def test_secret_key_lives_in_key_vault_and_telemetry_needs_entra(tmp_path: Path) -> None:
    calls, _ = deploy(tmp_path)
    vault = call(calls, "keyvault", "create")
    assert value(vault, "--enable-rbac-authorization") == "true"
    roles = {
        (
            value(c, "--role"),
            value(c, "--assignee-object-id"),
            value(c, "--scope").rsplit("/", 2)[-2],
        )
        for c in calls
        if c[:3] == ["role", "assignment", "create"]
    }
    identity, deployer = (
        "22222222-0000-4000-8000-00000000b0b0",
        "00000000-0000-4000-8000-00000000ad01",
    )
    assert ("Key Vault Secrets User", identity, "vaults") in roles
    assert ("Key Vault Secrets Officer", deployer, "vaults") in roles
    assert ("Monitoring Metrics Publisher", identity, "components") in roles
    secret_set = call(calls, "keyvault", "secret", "set")
    assert value(secret_set, "--file") and value(secret_set, "--name") == "django-secret-key"
    reference_identity = call(calls, "webapp", "update", "--set")
    assert value(reference_identity, "--set") == (
        "keyVaultReferenceIdentity=/subscriptions/sub/resourceGroups/rg/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/my-reviews-identity"
    )
    insights = call(calls, "app-insights", "component", "create")
    assert value(insights, "--workspace").endswith("/workspaces/my-reviews-logs")
    local_auth = call(calls, "resource", "update")
    assert value(local_auth, "--set") == "properties.DisableLocalAuth=true"
    order = [
        index_of(calls, "webapp", "identity", "assign"),
        index_of(calls, "keyvault", "create"),
        index_of(calls, "Key Vault Secrets Officer"),
        index_of(calls, "keyvault", "secret", "set"),
        index_of(calls, "log-analytics", "workspace", "create"),
        index_of(calls, "app-insights", "component", "create"),
        index_of(calls, "resource", "update"),
        index_of(calls, "Monitoring Metrics Publisher"),
        index_of(calls, "appsettings", "set"),
    ]
    assert order == sorted(order)
    settings = app_settings(calls)
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"].startswith("InstrumentationKey=")


def test_an_older_deploys_secret_key_moves_into_key_vault_unchanged(tmp_path: Path) -> None:
    """A site deployed before Key Vault keeps its SECRET_KEY (sessions stay valid): the value
    goes from the app setting to the vault through a file, never a command line."""
    old = "an-older-deploys-secret-key-value-that-signs-live-sessions-0123456789"
    (tmp_path / "az-state.json").write_text(json.dumps([f"setting:SECRET_KEY={old}"]))
    calls, output = deploy(tmp_path)
    assert stored_secret(calls) == old and old not in output
    assert not any(old in arg for c in calls if not c[0].startswith("@") for arg in c)
    assert app_settings(calls)["SECRET_KEY"] == REFERENCE
