"""A fake Azure CLI for testing deploy.sh: records every call (argv, one JSON line each, in
$FAKE_AZ_LOG) and keeps what was created (in $FAKE_AZ_STATE), answering the way the real CLI
does: `show` of a missing resource exits 3 with "(ResourceNotFound)", `--query` picks a field of
an ARM-shaped resource, `--output tsv` prints it bare, `--output none` prints nothing. Whether
the real CLI accepts each call's arguments is checked by localazure/az_parser_check.py.

Each call runs this script afresh in the tests' fake az server (serve.py), which the `az` on
PATH hands the call to; what it knows between calls is in the state file.
"""

import json
import os
import sys
import uuid

SUBSCRIPTION = "0b5c1d2e-0000-4000-8000-000000000001"
TENANT = "7e4a47c1-0000-4000-8000-0000000000aa"
# The app's identity, which the tests look for by these ids.
KNOWN_IDS = {
    "my-reviews-identity": (
        "11111111-0000-4000-8000-00000000c11e",
        "22222222-0000-4000-8000-00000000b0b0",
    )
}
# The ARM type of what a core command manages.
TYPES = {
    "identity": "Microsoft.ManagedIdentity/userAssignedIdentities",
    "postgres flexible-server": "Microsoft.DBforPostgreSQL/flexibleServers",
    "storage account": "Microsoft.Storage/storageAccounts",
    "appservice plan": "Microsoft.Web/serverfarms",
    "webapp": "Microsoft.Web/sites",
    "keyvault": "Microsoft.KeyVault/vaults",
    "monitor log-analytics workspace": "Microsoft.OperationalInsights/workspaces",
}

args = sys.argv[1:]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")


def stable_id(name: str) -> str:
    """A GUID that is the same for the same name, as Azure's are for the same resource."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def read(path: str) -> str:
    with open(path) as file:
        return file.read()


def record(*entry: str) -> None:
    """What az read from a file, recorded beside its call."""
    with open(os.environ["FAKE_AZ_LOG"], "a") as log:
        log.write(json.dumps(list(entry)) + "\n")


def option(name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


words = []
for arg in args:
    if arg.startswith("-"):
        break
    words.append(arg)
verb = words[-1] if words else ""
noun = " ".join(words[:-1])
group = option("--resource-group") or ""

state_path = os.environ["FAKE_AZ_STATE"]
loaded = json.loads(read(state_path)) if os.path.exists(state_path) else {}
resources: dict[str, dict[str, object]] = loaded.get("resources", {})
facts: dict[str, str] = loaded.get("facts", {})


def save() -> None:
    with open(state_path, "w") as state:
        state.write(json.dumps({"resources": resources, "facts": facts}))


def resource_id() -> str:
    """The ARM id of the resource this call names."""
    if ids := option("--ids"):
        return ids
    prefix = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers"
    name = option("--name") or option("--workspace-name") or ""
    if noun == "group":
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"
    if noun == "resource":
        kind = option("--resource-type") or ""
        if namespace := option("--namespace"):
            kind = f"{namespace}/{option('--parent') + '/' if option('--parent') else ''}{kind}"
        return f"{prefix}/{kind}/{name}"
    if noun == "postgres flexible-server db":
        server = option("--server-name")
        return f"{prefix}/{TYPES['postgres flexible-server']}/{server}/databases/{name}"
    if noun == "storage container-rm":
        account = option("--storage-account")
        return (
            f"{prefix}/{TYPES['storage account']}/{account}/blobServices/default/containers/{name}"
        )
    if noun == "identity federated-credential":
        identity = option("--identity-name")
        return f"{prefix}/{TYPES['identity']}/{identity}/federatedIdentityCredentials/{name}"
    if noun == "keyvault secret":
        return f"https://{option('--vault-name')}.vault.azure.net/secrets/{name}"
    return f"{prefix}/{TYPES.get(noun, noun.replace(' ', '.'))}/{name}"


def new_resource(rid: str) -> dict[str, object]:
    """The resource as ARM would answer for it, made from its id and the call's arguments."""
    name = rid.rsplit("/", 1)[-1]
    made: dict[str, object] = {
        "id": rid,
        "name": name,
        "location": option("--location") or "eastus",
    }
    if noun == "identity":
        client, principal = KNOWN_IDS.get(name, (stable_id(rid + "c"), stable_id(rid + "p")))
        made |= {"clientId": client, "principalId": principal, "tenantId": TENANT}
    elif noun == "keyvault":
        made["properties"] = {"vaultUri": f"https://{name}.vault.azure.net/"}
    elif noun == "webapp":
        made["defaultHostName"] = f"{name}.azurewebsites.net"
    elif noun == "postgres flexible-server":
        made["backup"] = {
            "backupRetentionDays": int(option("--backup-retention") or 7),
            "geoRedundantBackup": option("--geo-redundant-backup") or "Disabled",
        }
    elif noun == "resource":
        body = json.loads(option("--properties") or "{}")
        if "--is-full-object" in args:
            made |= body
        else:
            made["properties"] = body
        properties = made.setdefault("properties", {})
        if rid.endswith(f"/Microsoft.Cache/redisEnterprise/{name}"):
            properties["hostName"] = f"{name}.{made['location']}.redis.azure.net"
        if "/Microsoft.Insights/components/" in rid:
            properties["ConnectionString"] = (
                "InstrumentationKey=33333333-0000-4000-8000-00000000a1a1;"
                "IngestionEndpoint=https://eastus-8.in.applicationinsights.azure.com/"
            )
    return made


def query(value: object) -> object:
    """The few JMESPath forms deploy.sh uses: a dotted path, and length(@)."""
    path = option("--query")
    if not path:
        return value
    if path == "length(@)":
        return len(value)
    if path == "[].name":
        return [item.get("name") for item in value]
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def out(value: object) -> None:
    """Print as `--output` asks: json (the default), tsv (bare values) or none."""
    fmt = option("--output") or option("-o") or "json"
    if fmt == "none" or value is None and fmt == "tsv":
        return
    if fmt == "tsv":
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            sys.stdout.write(
                ("true" if row is True else "false" if row is False else str(row)) + "\n"
            )
    else:
        sys.stdout.write(json.dumps(value, indent=2) + "\n")


def not_found(rid: str) -> None:
    sys.stderr.write(f"ERROR: (ResourceNotFound) The Resource '{rid}' was not found.\n")
    save()
    sys.exit(3)


if noun == "ad signed-in-user":
    out(
        query(
            {
                "id": "00000000-0000-4000-8000-00000000ad01",
                "userPrincipalName": "deployer@contoso.example",
            }
        )
    )
elif noun == "account" and verb == "show":
    out(
        query(
            {"id": SUBSCRIPTION, "tenantId": TENANT, "user": {"name": "deployer@contoso.example"}}
        )
    )
elif noun == "ad app" and verb == "list":
    app_id = facts.get(f"app:{option('--display-name')}")
    if option("--query") == "[0].appId":
        out(app_id)  # tsv of nothing prints nothing, as the real one does for []
    else:
        out([{"appId": app_id}] if app_id else [])
elif noun == "ad app" and verb == "delete":
    for key in [k for k, v in facts.items() if k.startswith("app:") and v == option("--id")]:
        del facts[key]
elif noun == "ad app" and verb == "create":
    facts[f"app:{option('--display-name')}"] = stable_id("app" + str(option("--display-name")))
elif noun == "ad sp":
    sp = f"sp:{option('--id')}"
    if verb == "show" and sp not in facts:
        not_found(sp)
    if verb == "create":
        facts[sp] = stable_id(sp)
    if verb == "show":
        out(query({"id": facts[sp], "appId": option("--id")}))
elif noun == "ad app federated-credential":
    named = option("--federated-credential-id")
    named = named or json.loads(option("--parameters") or "{}").get("name")
    credential = f"fic:{option('--id')}:{named}"
    if verb == "show" and credential not in facts:
        not_found(credential)
    if verb == "create":
        facts[credential] = option("--parameters") or ""
elif words == ["rest"]:
    url, method = option("--url") or "", option("--method") or "get"
    if url.endswith("/appRoleAssignedTo") and method == "get":
        out(sum(1 for key in facts if key.startswith(f"assignment:{url}")))
    elif url.endswith("/appRoleAssignedTo") and method == "post":
        body = json.loads(option("--body") or "{}")
        facts[f"assignment:{url}:{body.get('principalId')}:{body.get('appRoleId')}"] = "1"
    elif method == "put":
        facts[f"put:{url}"] = option("--body") or ""

elif noun == "role assignment":
    # A list is filtered by assignee, role and scope, as the real one is.
    assignee = option("--assignee") or option("--assignee-object-id")
    assignment = f"role:{assignee}:{option('--role')}:{option('--scope')}"
    if verb == "list":
        out(query([{"id": assignment}] if assignment in facts else []))
    elif verb == "create":
        facts[assignment] = "1"
        out(query({"id": assignment}))
elif noun == "keyvault secret" and verb == "set":
    record("@secretfile", read(option("--file") or ""))
    resources[resource_id()] = {"id": f"{resource_id()}/{os.urandom(16).hex()}"}  # a new version
elif noun == "keyvault" and verb in {"show-deleted", "purge"}:
    # A vault is soft-deleted with its group, until purged.
    vault = f"deleted-vault:{option('--name')}"
    if verb == "purge" or vault not in facts:
        facts.pop(vault, None)
        if verb == "show-deleted":
            not_found(vault)
elif noun == "identity federated-credential" and verb == "list":
    prefix = resource_id().rsplit("/", 1)[0] + "/"
    out(query([r for rid, r in resources.items() if rid.startswith(prefix)]))
elif noun == "webapp config appsettings" and verb == "list":
    # As an earlier deploy left them; the query is the one deploy.sh sends.
    if "SECRET_KEY" in facts:
        out(facts["SECRET_KEY"])
elif noun == "webapp config appsettings" and verb == "set":
    settings = option("--settings") or ""
    if settings.startswith("@"):  # the file az reads: recorded too, as "@settings" name=value
        pairs = [f"{s['name']}={s['value']}" for s in json.loads(read(settings[1:]))]
        record("@settings", *pairs)
    else:
        pairs = args
    for pair in pairs:
        if pair.startswith("SECRET_KEY="):
            facts["SECRET_KEY"] = pair.split("=", 1)[1]
elif verb == "show":
    rid = resource_id()
    if rid not in resources:
        not_found(rid)
    out(query(resources[rid]))
elif verb == "create" and noun not in {"postgres flexible-server firewall-rule"}:
    rid = resource_id()
    resources.setdefault(rid, new_resource(rid))
    out(query(resources[rid]))
elif verb == "update" and noun == "resource" and "--ids" in args and resource_id() not in resources:
    not_found(resource_id())
elif noun == "group" and verb == "delete":
    prefix = resource_id() + "/"
    for rid in resources:
        if rid.startswith(prefix) and "/Microsoft.KeyVault/vaults/" in rid:
            facts[f"deleted-vault:{rid.rsplit('/', 1)[-1]}"] = rid
    for rid in [rid for rid in resources if rid.startswith(prefix) or rid == prefix[:-1]]:
        del resources[rid]
elif verb == "delete" and noun != "webapp config appsettings":
    resources.pop(resource_id(), None)
save()
