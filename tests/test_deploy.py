"""deploy.sh against a fake `az` that records its calls: the right resources, flags and order,
no secrets printed, and nothing created twice; and every call it makes, in every option,
through the real Azure CLI's parser."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from localazure.azure_cli import AZURE_CLI_VERSION, find_azure_cli, through_real_cli
from localazure.services import PROJECT_DIR
from tests.helpers import unavailable

FAKE_AZ = PROJECT_DIR / "tests" / "fake_az"


def run_script(
    script: str, tmp_path: Path, *args: str, stdin: str = "", code: int = 0, **env: str
) -> tuple[list[list[str]], str]:
    """A script of the project's (deploy.sh, scripts/...) against the fake `az`, which keeps
    what exists in `tmp_path` between runs; the calls it made, and what it printed."""
    log = tmp_path / "az-calls.jsonl"
    log.unlink(missing_ok=True)
    fakes = {"FAKE_AZ_LOG": str(log), "FAKE_AZ_STATE": str(tmp_path / "az-state.json")}
    with fake_az_server(fakes) as port:
        result = subprocess.run(
            ["bash", str(PROJECT_DIR / script), *args],
            cwd=PROJECT_DIR,
            env={
                # The fakes' python3 straight from this interpreter's folder, not a version
                # manager's shim.
                "PATH": f"{FAKE_AZ}:{Path(sys.executable).parent}:{os.environ['PATH']}",
                "HOME": str(tmp_path),
                **fakes,
                "FAKE_AZ_PORT": str(port),
                "APP_NAME": "my-reviews",
                "DEPLOYER_IP": "203.0.113.7",
                # The grant runs the app's own command; a fake records it beside the az calls.
                "PYTHON": str(FAKE_AZ / "fake-python"),
                **env,
            },
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == code, result.stdout + result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return calls, result.stdout + result.stderr


@contextmanager
def fake_az_server(env: dict[str, str]) -> Iterator[int]:
    """The fake Azure CLI's server (tests/fake_az/serve.py) for one run of a script: its port."""
    server = subprocess.Popen(
        [sys.executable, "-S", str(FAKE_AZ / "serve.py")],
        env={**env, "PATH": os.environ["PATH"]},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        assert port.isdigit(), f"the fake az server did not start (it said {port!r})"
        yield int(port)
    finally:
        server.kill()
        server.wait()
        assert server.stdout is not None
        server.stdout.close()


def deploy(tmp_path: Path, **env: str) -> tuple[list[list[str]], str]:
    return run_script("deploy.sh", tmp_path, **env)


Run = tuple[list[list[str]], str]
EVERY_OPTION = {
    "REDIS": "1",
    "PUBLIC_PHOTOS": "1",
    "GITHUB_REPO": "contoso/restaurant-review",
    "ENTRA_SIGN_IN": "1",
    "GEO_BACKUP": "1",
    "BACKUP_DAYS": "35",
    "BLOB_RETENTION_DAYS": "14",
    "ALERT_EMAIL": "oncall@contoso.example",
}


def deployed_twice(folder: Path, **env: str) -> tuple[Run, Run]:
    """A first deploy, then the same again (what exists is kept, in `folder`)."""
    return deploy(folder, **env), deploy(folder, **env)


@pytest.fixture(scope="module")
def default_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("default")


@pytest.fixture(scope="module")
def default_runs(default_folder: Path) -> tuple[Run, Run]:
    return deployed_twice(default_folder)


@pytest.fixture
def deployed_site(default_runs: tuple[Run, Run], default_folder: Path, tmp_path: Path) -> Path:
    """A folder where the fake `az` finds the site default_runs deployed (what exists, copied
    from there): for a test of what comes after a deploy, without deploying again."""
    shutil.copy(default_folder / "az-state.json", tmp_path / "az-state.json")
    return tmp_path


@pytest.fixture(scope="module")
def every_option_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """Every option on (REDIS, PUBLIC_PHOTOS, GITHUB_REPO, ENTRA_SIGN_IN, backups, alerts)."""
    return deployed_twice(tmp_path_factory.mktemp("every-option"), **EVERY_OPTION)


# A larger site: a Standard plan of 2 instances autoscaling to 10, and a General Purpose
# database with its built-in PgBouncer.
SCALED = {
    "PLAN_SKU": "S2",
    "INSTANCES": "2",
    "AUTOSCALE_MAX": "10",
    "PG_SKU": "Standard_D2ds_v5",
}


@pytest.fixture(scope="module")
def scaled_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    return deployed_twice(tmp_path_factory.mktemp("scaled"), **SCALED)


REFERENCE = "@Microsoft.KeyVault(SecretUri=https://my-reviews-kv.vault.azure.net/secrets/django-secret-key/)"


def stored_secret(calls: list[list[str]]) -> str:
    """The value `az keyvault secret set` read from its --file (recorded by the fake)."""
    index = index_of(calls, "keyvault", "secret", "set")
    assert calls[index + 1][0] == "@secretfile"
    return calls[index + 1][1]


def az_calls(calls: list[list[str]]) -> list[list[str]]:
    """The az calls alone (not the file contents nor the other commands recorded beside them)."""
    return [c for c in calls if not c[0].startswith("@") and c[0] not in {"python", "curl"}]


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


def test_first_deploy_creates_everything_in_order(default_runs: tuple[Run, Run]) -> None:
    calls, output = default_runs[0]
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


def test_second_deploy_creates_nothing_and_keeps_the_secret_key(
    default_runs: tuple[Run, Run],
) -> None:
    calls, _ = default_runs[1]
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


def test_public_photos_option_makes_the_tutorials_public_container(
    every_option_runs: tuple[Run, Run],
) -> None:
    calls, _ = every_option_runs[0]
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


def test_redis_option_makes_an_entra_only_cache_for_the_identity(
    every_option_runs: tuple[Run, Run],
) -> None:
    calls, output = every_option_runs[0]
    # No extension: the cluster, its database and the access policy through ARM.
    cluster = call(calls, "resource", "create", "redisEnterprise")
    assert value(cluster, "--api-version") == "2025-04-01"
    assert json.loads(value(cluster, "--properties"))["sku"] == {"name": "Balanced_B0"}
    database = json.loads(value(call(calls, "resource", "create", "databases"), "--properties"))
    assert database["accessKeysAuthentication"] == "Disabled"  # Microsoft Entra ID only
    assert database["clusteringPolicy"] == "EnterpriseCluster"  # one endpoint
    assert (database["clientProtocol"], database["port"]) == ("Encrypted", 10000)
    policy = call(calls, "resource", "create", "accessPolicyAssignments")
    assert value(policy, "--parent") == "redisEnterprise/my-reviews-cache/databases/default"
    assert json.loads(value(policy, "--properties")) == {
        "accessPolicyName": "default",
        "user": {"objectId": "22222222-0000-4000-8000-00000000b0b0"},
    }
    order = [
        index_of(calls, "identity", "create"),
        index_of(calls, "resource", "create", "redisEnterprise"),
        index_of(calls, "resource", "create", "databases"),
        index_of(calls, "resource", "create", "accessPolicyAssignments"),
        index_of(calls, "appsettings", "set"),
    ]
    assert order == sorted(order)
    settings = app_settings(calls)
    assert settings["REDIS_HOST"] == "my-reviews-cache.eastus.redis.azure.net"
    assert not any("key" in name.lower() and name != "SECRET_KEY" for name in settings)
    assert not any("list-keys" in c or "keys" in c for c in calls)
    # Again: nothing created twice; and without REDIS=1 no cache at all.
    again, _ = every_option_runs[1]
    assert not [c for c in again if "resource" in c and "create" in c]
    assert app_settings(again)["REDIS_HOST"] == settings["REDIS_HOST"]


def test_publishing_passwords_are_switched_off(default_runs: tuple[Run, Run]) -> None:
    """Every new web app has FTP and SCM publishing credentials: deploys go through Entra."""
    calls, _ = default_runs[0]
    policies = {
        value(c, "--name"): value(c, "--set")
        for c in calls
        if "basicPublishingCredentialsPolicies" in c
    }
    assert policies == {"scm": "properties.allow=false", "ftp": "properties.allow=false"}
    assert index_of(calls, "basicPublishingCredentialsPolicies") < index_of(
        calls, "webapp", "deploy"
    )


def test_github_repo_option_makes_a_pipeline_identity_of_its_own(
    every_option_runs: tuple[Run, Run],
) -> None:
    calls, output = every_option_runs[0]
    pipeline = call(calls, "identity", "create", "my-reviews-deploy")
    assert value(pipeline, "--resource-group") == "my-reviews-rg"
    subjects = {
        value(c, "--name"): (value(c, "--subject"), value(c, "--issuer"), value(c, "--audiences"))
        for c in calls
        if c[:3] == ["identity", "federated-credential", "create"]
    }
    issuer, audience = "https://token.actions.githubusercontent.com", "api://AzureADTokenExchange"
    assert subjects == {
        "github-main": ("repo:contoso/restaurant-review:ref:refs/heads/main", issuer, audience),
        "github-production": (
            "repo:contoso/restaurant-review:environment:production",
            issuer,
            audience,
        ),
    }
    assert all(
        value(c, "--identity-name") == "my-reviews-deploy"
        for c in calls
        if c[:2] == ["identity", "federated-credential"]
    )
    # Only a code deploy's rights, on the web app alone; the app's identity gets none of this.
    pipeline_id = next(
        line.split("=", 1)[1] for line in output.splitlines() if "AZURE_CLIENT_ID=" in line
    )
    assert pipeline_id != "11111111-0000-4000-8000-00000000c11e"  # not the app's identity
    roles = [c for c in calls if c[:3] == ["role", "assignment", "create"]]
    pipeline_roles = [
        c
        for c in roles
        if value(c, "--assignee-object-id")
        not in {"22222222-0000-4000-8000-00000000b0b0", "00000000-0000-4000-8000-00000000ad01"}
    ]
    assert [
        (value(c, "--role"), value(c, "--scope").rsplit("/", 2)[-2:]) for c in pipeline_roles
    ] == [("Website Contributor", ["sites", "my-reviews"])]
    for name in (
        "AZURE_TENANT_ID",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_WEBAPP_NAME=my-reviews",
        "AZURE_RESOURCE_GROUP=my-reviews-rg",
    ):
        assert name in output
    # Again: nothing new.
    again, _ = every_option_runs[1]
    assert not [c for c in again if ("identity" in c or "role" in c) and "create" in c]


def test_entra_sign_in_option_registers_the_app_without_a_secret_and_makes_you_admin(
    every_option_runs: tuple[Run, Run], default_runs: tuple[Run, Run]
) -> None:
    calls, _ = every_option_runs[0]
    registration = call(calls, "ad", "app", "create")
    assert value(registration, "--sign-in-audience") == "AzureADMyOrg"  # single tenant
    assert value(registration, "--web-redirect-uris") == (
        "https://my-reviews.azurewebsites.net/.auth/login/aad/callback"
    )
    assert value(registration, "--app-roles").startswith("@")
    # A federated credential trusting the app's managed identity: no client secret anywhere.
    credential = json.loads(
        value(call(calls, "federated-credential", "create", "--id"), "--parameters")
    )
    assert credential["subject"] == "22222222-0000-4000-8000-00000000b0b0"
    assert credential["audiences"] == ["api://AzureADTokenExchange"]
    assert not any("credential" in c and "reset" in c for c in calls)
    assert not any(arg in {"--password", "--client-secret"} for c in calls for arg in c)
    auth = call(calls, "rest", "put")
    assert "/config/authsettingsV2?api-version=" in value(auth, "--url")
    body = json.loads(value(auth, "--body"))["properties"]
    assert body["globalValidation"]["unauthenticatedClientAction"] == "AllowAnonymous"
    aad = body["identityProviders"]["azureActiveDirectory"]["registration"]
    assert aad["clientSecretSettingName"] == "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"
    assert app_settings(calls)["OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"] == (
        "11111111-0000-4000-8000-00000000c11e"  # the app's identity, not the registration
    )
    admin = json.loads(value(call(calls, "rest", "post", "--body"), "--body"))
    assert admin["principalId"] == "00000000-0000-4000-8000-00000000ad01"  # you
    order = [
        index_of(calls, "webapp", "create"),
        index_of(calls, "ad", "app", "create"),
        index_of(calls, "rest", "put"),
        index_of(calls, "appsettings", "set"),
        index_of(calls, "webapp", "deploy"),
    ]
    assert order == sorted(order)
    # Again: nothing new; and without ENTRA_SIGN_IN=1 no registration at all.
    again, _ = every_option_runs[1]
    assert not [c for c in again if c[:1] == ["ad"] and "create" in c]
    assert not any(c[:3] == ["rest", "--method", "post"] for c in again)
    assert not any(c[:2] == ["ad", "app"] for c in default_runs[0][0])


def refused(tmp_path: Path, **env: str) -> str:
    """deploy.sh with these settings stops with exit 2 before any az call; what it said."""
    result = subprocess.run(
        ["bash", str(PROJECT_DIR / "deploy.sh")],
        env={
            **os.environ,
            "APP_NAME": "my-reviews",
            "PATH": f"{FAKE_AZ}:{os.environ['PATH']}",
            "FAKE_AZ_LOG": str(tmp_path / "l"),
            "FAKE_AZ_STATE": str(tmp_path / "s"),
            **env,
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert not (tmp_path / "l").exists()  # no az call at all
    return result.stderr


def test_github_repo_must_name_owner_and_repository(tmp_path: Path) -> None:
    assert "GITHUB_REPO must be owner/name" in refused(tmp_path, GITHUB_REPO="https://github.com/x")


def test_deployer_address_is_asked_of_an_echo_service_when_not_given(tmp_path: Path) -> None:
    calls, _ = deploy(tmp_path, DEPLOYER_IP="")
    assert call(calls, "curl")[-1] == "https://api.ipify.org"
    assert value(call(calls, "firewall-rule", "create"), "--start-ip-address") == "203.0.113.9"


def test_every_az_call_in_every_option_passes_the_real_azure_cli(
    default_runs: tuple[Run, Run],
    every_option_runs: tuple[Run, Run],
    scaled_runs: tuple[Run, Run],
    operated_runs: dict[str, Run],
    tmp_path: Path,
) -> None:
    """Each distinct call deploy.sh makes (defaults; then REDIS, PUBLIC_PHOTOS, GITHUB_REPO and
    ENTRA_SIGN_IN, GEO_BACKUP, ALERT_EMAIL together; then INSTANCES, AUTOSCALE_MAX and a
    General Purpose PG_SKU; each run twice, for the paths where things exist; then the
    operator's scripts: key rotation, a code rollback and the teardown) goes through
    azure-cli's own parser and validators, signed out: every one must get as far as the
    sign-in check."""
    python = find_azure_cli()
    if python is None:
        unavailable(f"azure-cli {AZURE_CLI_VERSION} is not installed (run-tests.sh installs it)")
        return
    distinct: list[list[str]] = []
    for calls, _ in (*default_runs, *every_option_runs, *scaled_runs, *operated_runs.values()):
        distinct += [c for c in az_calls(calls) if c not in distinct]
    assert len(distinct) >= 70, len(distinct)
    outcomes = through_real_cli(python, distinct, tmp_path / "cli")
    refused = [
        f"az {' '.join(o.argv)}\n    {o.output.strip()[:300]}"
        for o in outcomes
        if not o.reached_sign_in
    ]
    assert refused == [], "\n".join(refused)


def test_secret_key_lives_in_key_vault_and_telemetry_needs_entra(
    default_runs: tuple[Run, Run],
) -> None:
    calls, _ = default_runs[0]
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
    assert value(reference_identity, "--set").startswith(
        "keyVaultReferenceIdentity=/subscriptions/"
    )
    assert value(reference_identity, "--set").endswith(
        "/resourceGroups/my-reviews-rg/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/my-reviews-identity"
    )
    # No extension: the component through ARM, workspace-based, Entra ingestion only.
    insights = call(calls, "resource", "create", "Microsoft.Insights/components")
    assert value(insights, "--api-version") == "2020-02-02"
    component = json.loads(value(insights, "--properties"))
    assert component["kind"] == "web" and component["location"] == "eastus"
    assert component["properties"]["WorkspaceResourceId"].endswith("/workspaces/my-reviews-logs")
    assert component["properties"]["DisableLocalAuth"] is True
    local_auth = call(calls, "resource", "update", "--ids")
    assert value(local_auth, "--set") == "properties.DisableLocalAuth=true"
    order = [
        index_of(calls, "webapp", "identity", "assign"),
        index_of(calls, "keyvault", "create"),
        index_of(calls, "Key Vault Secrets Officer"),
        index_of(calls, "keyvault", "secret", "set"),
        index_of(calls, "log-analytics", "workspace", "create"),
        index_of(calls, "resource", "create", "Microsoft.Insights/components"),
        index_of(calls, "resource", "update", "--ids"),
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
    (tmp_path / "az-state.json").write_text(json.dumps({"facts": {"SECRET_KEY": old}}))
    calls, output = deploy(tmp_path)
    assert stored_secret(calls) == old and old not in output
    assert not any(old in arg for c in calls if not c[0].startswith("@") for arg in c)
    assert app_settings(calls)["SECRET_KEY"] == REFERENCE


def test_the_default_site_gets_the_whole_tier_and_no_sticky_sessions(
    default_runs: tuple[Run, Run],
) -> None:
    calls, _ = default_runs[0]
    server = call(calls, "flexible-server", "create", "--tier")
    assert (value(server, "--tier"), value(server, "--sku-name")) == ("Burstable", "Standard_B1ms")
    assert value(call(calls, "appservice", "plan", "create"), "--number-of-workers") == "1"
    settings = app_settings(calls)
    # B1ms: 50 connections less Azure's 15; one instance of 3 workers (B1: one core).
    assert (settings["DB_MAX_CONNECTIONS"], settings["WEB_CONCURRENCY"]) == ("35", "3")
    assert "DBPORT" not in settings  # no PgBouncer on Burstable
    assert not any("pgbouncer.enabled" in c for c in calls)
    assert not any("autoscale" in c for c in calls)
    update = call(calls, "webapp", "update", "--https-only")
    assert value(update, "--client-affinity-enabled") == "false"
    # The health check stays.
    config = call(calls, "webapp", "config", "set", "--startup-file")
    assert json.loads(value(config, "--generic-configurations")) == {"healthCheckPath": "/healthz"}


def test_six_instances_on_the_default_tier_get_five_connections_each(tmp_path: Path) -> None:
    calls, output = deploy(tmp_path, INSTANCES="6", PLAN_SKU="S1")
    assert value(call(calls, "appservice", "plan", "create"), "--number-of-workers") == "6"
    settings = app_settings(calls)
    assert (settings["DB_MAX_CONNECTIONS"], settings["WEB_CONCURRENCY"]) == ("5", "3")
    # Without Redis, what several instances cost is said plainly.
    assert "up to 6 instances without REDIS=1" in output


def test_a_larger_site_autoscales_on_cpu_through_pgbouncer(scaled_runs: tuple[Run, Run]) -> None:
    calls, _ = scaled_runs[0]
    server = call(calls, "flexible-server", "create", "--tier")
    assert (value(server, "--tier"), value(server, "--sku-name")) == (
        "GeneralPurpose",
        "Standard_D2ds_v5",
    )
    pgbouncer = call(calls, "flexible-server", "parameter", "set", "pgbouncer.enabled")
    assert value(pgbouncer, "--value") == "true"
    assert value(call(calls, "appservice", "plan", "create"), "--number-of-workers") == "2"
    autoscale = call(calls, "monitor", "autoscale", "create")
    assert (
        value(autoscale, "--min-count"),
        value(autoscale, "--count"),
        value(autoscale, "--max-count"),
    ) == ("2", "2", "10")
    assert value(autoscale, "--resource").endswith("/Microsoft.Web/serverfarms/my-reviews-plan")
    rules = {
        value(c, "--scale"): value(c, "--condition")
        for c in calls
        if c[:4] == ["monitor", "autoscale", "rule", "create"]
    }
    assert rules == {"out": "CpuPercentage > 70 avg 10m", "in": "CpuPercentage < 30 avg 10m"}
    settings = app_settings(calls)
    # PgBouncer's 5,000 client connections over at most 10 instances; S2: 2 cores, 5 workers.
    assert (settings["DBPORT"], settings["DB_MAX_CONNECTIONS"], settings["WEB_CONCURRENCY"]) == (
        "6432",
        "500",
        "5",
    )
    assert index_of(calls, "monitor", "autoscale", "create") < index_of(calls, "webapp", "deploy")
    # Again: the autoscale setting is updated, not made twice; autoscale keeps the count.
    again, _ = scaled_runs[1]
    assert not any(c[:3] == ["monitor", "autoscale", "create"] for c in again)
    assert not any("rule" in c and "create" in c for c in again)
    bounds = call(again, "monitor", "autoscale", "update")
    assert (value(bounds, "--min-count"), value(bounds, "--max-count")) == ("2", "10")
    assert not any(c[:3] == ["appservice", "plan", "update"] for c in again)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"INSTANCES": "10", "PLAN_SKU": "S2"},
            "10 instances get 3 each, fewer than their 5 workers. Use PG_SKU=Standard_B2s",
        ),
        (
            {"INSTANCES": "3", "AUTOSCALE_MAX": "10", "PLAN_SKU": "S3"},
            "10 instances get 3 each, fewer than their 9 workers. Use PG_SKU=Standard_B2s",
        ),
        ({"INSTANCES": "4"}, "PLAN_SKU=B1 runs at most 3 instances, not 4"),
        ({"AUTOSCALE_MAX": "3"}, "Autoscale needs a Standard or Premium plan"),
        ({"INSTANCES": "two"}, "INSTANCES must be a whole number"),
        ({"PG_SKU": "Standard_D4ds_v5", "PG_TIER": "Burstable"}, "in the GeneralPurpose tier"),
        ({"PG_SKU": "Basic_1"}, "PG_SKU=Basic_1 is not a Flexible Server SKU"),
        ({"BACKUP_DAYS": "40"}, "BACKUP_DAYS must be from 7 to 35"),
        ({"GEO_BACKUP": "yes"}, "GEO_BACKUP must be 0 or 1"),
        ({"BLOB_RETENTION_DAYS": "0"}, "BLOB_RETENTION_DAYS must be a whole number"),
        ({"ALERT_EMAIL": "oncall"}, "ALERT_EMAIL must be an email address"),
    ],
)
def test_a_site_too_big_for_its_tiers_is_refused_before_anything_is_made(
    tmp_path: Path, options: dict[str, str], message: str
) -> None:
    said = refused(tmp_path, **options)
    assert message in said, said


def test_photos_can_be_undeleted_and_the_database_restored_to_a_point_in_time(
    default_runs: tuple[Run, Run], every_option_runs: tuple[Run, Run]
) -> None:
    calls, _ = default_runs[0]
    retention = call(calls, "blob-service-properties", "update")
    assert (
        value(retention, "--enable-delete-retention"),
        value(retention, "--delete-retention-days"),
        value(retention, "--enable-container-delete-retention"),
        value(retention, "--container-delete-retention-days"),
    ) == ("true", "7", "true", "7")
    assert index_of(calls, "container-rm", "create") < index_of(calls, "blob-service-properties")
    server = call(calls, "flexible-server", "create", "--tier")
    assert value(server, "--backup-retention") == "7"
    assert value(server, "--geo-redundant-backup") == "Disabled"
    kept = call(calls, "flexible-server", "update", "--backup-retention")
    assert value(kept, "--backup-retention") == "7"

    chosen, _ = every_option_runs[0]
    server = call(chosen, "flexible-server", "create", "--tier")
    assert (value(server, "--backup-retention"), value(server, "--geo-redundant-backup")) == (
        "35",
        "Enabled",
    )
    assert value(call(chosen, "blob-service-properties", "update"), "--delete-retention-days") == (
        "14"
    )
    _, again = every_option_runs[1]
    assert "geo-redundant" not in again  # it was made so: nothing to say


def test_geo_backup_asked_of_an_existing_server_is_explained_not_ignored(
    deployed_site: Path,
) -> None:
    _, output = deploy(deployed_site, GEO_BACKUP="1")
    assert "created without geo-redundant backup" in output


def test_alert_email_makes_an_action_group_and_alerts_on_the_app_and_the_database(
    every_option_runs: tuple[Run, Run], default_runs: tuple[Run, Run]
) -> None:
    calls, _ = every_option_runs[0]
    group = call(calls, "monitor", "action-group", "create")
    assert value(group, "--name") == "my-reviews-alerts"
    action = group[group.index("--action") + 1 : group.index("--action") + 4]
    assert action == ["email", "operator", "oncall@contoso.example"]
    alerts = {
        value(c, "--name"): (
            value(c, "--condition"),
            value(c, "--window-size"),
            value(c, "--scopes"),
        )
        for c in calls
        if c[:4] == ["monitor", "metrics", "alert", "create"]
    }
    site, database = "/Microsoft.Web/sites/my-reviews", "/flexibleServers/my-reviews-db"
    assert {name: (condition, window) for name, (condition, window, _) in alerts.items()} == {
        "my-reviews-http-5xx": ("total Http5xx > 10", "5m"),
        "my-reviews-health-check": ("avg HealthCheckStatus < 100", "5m"),
        # B1ms: 80 % of its 50 connections.
        "my-reviews-db-connections": ("max active_connections > 40", "5m"),
        "my-reviews-db-storage": ("avg storage_percent > 80", "15m"),
        "my-reviews-db-cpu": ("avg cpu_percent > 80", "15m"),
    }
    assert all(
        scope.endswith(site if name.startswith("my-reviews-h") else database)
        for name, (_, _, scope) in alerts.items()
    )
    assert all(
        value(c, "--action").endswith("/my-reviews-alerts")
        for c in calls
        if c[:4] == ["monitor", "metrics", "alert", "create"]
    )
    again, _ = every_option_runs[1]
    assert not any(c[:2] == ["monitor", "metrics"] and "create" in c for c in again)
    assert not any(c[:2] == ["monitor", "action-group"] and "create" in c for c in again)
    assert not any("alert" in c or "action-group" in c for c in default_runs[0][0])


# The commit to roll back to: the one before this, unless the clone is shallow.
PARENT = subprocess.run(
    ["git", "rev-parse", "--verify", "--quiet", "HEAD~1"], cwd=PROJECT_DIR, capture_output=True
)
EARLIER = "HEAD~1" if PARENT.returncode == 0 else "HEAD"


@pytest.fixture(scope="module")
def operated_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """A site deployed with every option, then what an operator does to it: rotate the key,
    drop the fallback, roll the code back a commit, and tear it all down."""
    folder = tmp_path_factory.mktemp("operated")
    runs = {"deploy": deploy(folder, **EVERY_OPTION)}
    runs["rotate"] = run_script("scripts/rotate-secret-key.sh", folder)
    runs["drop"] = run_script("scripts/rotate-secret-key.sh", folder, "--drop-fallback")
    runs["rollback"] = run_script("scripts/deploy-code.sh", folder, EARLIER)
    runs["teardown"] = run_script("scripts/teardown.sh", folder, "--yes")
    runs["after"] = run_script("scripts/teardown.sh", folder, "--yes")
    return runs


def test_rotating_the_secret_key_keeps_the_old_one_as_the_fallback(
    operated_runs: dict[str, Run],
) -> None:
    deployed, _ = operated_runs["deploy"]
    calls, output = operated_runs["rotate"]
    old, new = stored_secret(deployed), stored_secret(calls)
    assert len(new) >= 50 and new != old and new not in output
    assert not any(new in arg for c in calls if not c[0].startswith("@") for arg in c)
    previous = value(call(calls, "keyvault", "secret", "show"), "--query")
    assert previous == "id"  # the version that was current, by its full id
    settings = call(calls, "appsettings", "set")
    fallback = value(settings, "--settings")
    assert re.fullmatch(
        r"SECRET_KEY_FALLBACKS=@Microsoft\.KeyVault\(SecretUri=https://my-reviews-kv\.vault"
        r"\.azure\.net/secrets/django-secret-key/[0-9a-f]{32}\)",
        fallback,
    ), fallback
    assert index_of(calls, "keyvault", "secret", "set") < index_of(calls, "appsettings", "set")
    dropped, _ = operated_runs["drop"]
    assert value(call(dropped, "appsettings", "delete"), "--setting-names") == (
        "SECRET_KEY_FALLBACKS"
    )


def test_a_rollback_deploys_the_given_commit(operated_runs: dict[str, Run], tmp_path: Path) -> None:
    calls, output = operated_runs["rollback"]
    earlier = subprocess.run(
        ["git", "log", "-1", "--format=%h", EARLIER],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f"Deploying {EARLIER} ({earlier} " in output
    assert value(call(calls, "webapp", "deploy"), "--type") == "zip"
    _, refused = run_script("scripts/deploy-code.sh", tmp_path, "no-such-ref", code=2)
    assert "Not a commit in this repository: no-such-ref" in refused


def test_teardown_deletes_the_group_purges_the_vault_and_what_lives_outside(
    operated_runs: dict[str, Run],
) -> None:
    calls, output = operated_runs["teardown"]
    order = [
        index_of(calls, "ad", "app", "delete"),
        index_of(calls, "federated-credential", "delete", "github-main"),
        index_of(calls, "federated-credential", "delete", "github-production"),
        index_of(calls, "log-analytics", "workspace", "delete"),
        index_of(calls, "group", "delete"),
        index_of(calls, "keyvault", "purge"),
    ]
    assert order == sorted(order)
    assert value(call(calls, "group", "delete"), "--name") == "my-reviews-rg"
    assert value(call(calls, "keyvault", "purge"), "--name") == "my-reviews-kv"
    assert value(call(calls, "workspace", "delete"), "--force") == "true"
    # Again: nothing is left to delete, and it says so.
    again, said = operated_runs["after"]
    assert not any("delete" in c or "purge" in c for c in again)
    assert "already gone" in said and "not among the deleted vaults" in said


def test_teardown_asks_for_the_group_name_before_deleting_anything(deployed_site: Path) -> None:
    calls, output = run_script("scripts/teardown.sh", deployed_site, stdin="yes\n", code=1)
    assert calls == [] and "Nothing deleted." in output
    calls, _ = run_script("scripts/teardown.sh", deployed_site, stdin="my-reviews-rg\n")
    assert value(call(calls, "group", "delete"), "--name") == "my-reviews-rg"


def documented_az_calls(*pages: str) -> list[list[str]]:
    """The `az` commands in the shell blocks of these docs pages, as argv lists."""
    calls = []
    for page in pages:
        text = (PROJECT_DIR / "docs" / page).read_text()
        for block in re.findall(r"```sh\n(.*?)```", text, re.S):
            for line in block.splitlines():
                if line.startswith("az "):
                    calls.append(shlex.split(line)[1:])
    return calls


def test_every_az_command_in_the_runbooks_passes_the_real_azure_cli(tmp_path: Path) -> None:
    """An operator pastes these: each must be a call the CLI accepts, as written."""
    python = find_azure_cli()
    if python is None:
        unavailable(f"azure-cli {AZURE_CLI_VERSION} is not installed (run-tests.sh installs it)")
        return
    calls = documented_az_calls("operate.md", "scale-out.md")
    assert len(calls) >= 20, len(calls)  # the extraction works
    outcomes = through_real_cli(python, calls, tmp_path / "cli")
    refused = [
        f"az {' '.join(o.argv)}\n    {o.output.strip()[:300]}"
        for o in outcomes
        if not o.reached_sign_in
    ]
    assert refused == [], "\n".join(refused)
