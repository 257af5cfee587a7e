#!/usr/bin/env bash
# Deploy Restaurant Review to Azure App Service with no secrets, the way Microsoft's tutorial
# does it (plus what it leaves out: the schema grant, a private container, a health check).
# Idempotent: run it again to converge; what exists is kept, what is missing is created.
#
# Needs: the Azure CLI, signed in (`az login`) as someone who may create resources and is made
# the PostgreSQL server's Microsoft Entra administrator; and `git` (the code deployed is HEAD).
#
#   APP_NAME=my-reviews ./deploy.sh
#
# Settings (environment variables): APP_NAME (required, globally unique), LOCATION (eastus),
# RESOURCE_GROUP, DB_SERVER, DB_NAME, STORAGE_ACCOUNT, STORAGE_CONTAINER (photos),
# IDENTITY_NAME, PLAN_SKU (B1), PYTHON_VERSION (3.11), PUBLIC_PHOTOS (0: private container with
# SAS links; 1: the tutorial's public container with plain URLs), DEPLOYER_IP (your public IP,
# allowed through the database firewall while the grant runs; asked of a public echo
# service when unset),
# REDIS (0; 1: an Azure Managed Redis shared page cache, Entra authentication only),
# REDIS_NAME, REDIS_SKU (Balanced_B0), KEY_VAULT (<APP_NAME>-kv), WORKSPACE_NAME, APPINSIGHTS_NAME,
# DEPLOY_RETRY_SECONDS (20: the wait between tries while a new Key Vault role applies),
# GITHUB_REPO (owner/name: a deployment pipeline for that GitHub repository, signing in with
# OpenID Connect as an identity of its own, PIPELINE_IDENTITY_NAME, <APP_NAME>-deploy),
# ENTRA_SIGN_IN (0; 1: staff sign in to /admin/ with Microsoft Entra ID through App Service
# authentication, app roles Admin and Moderator, no password and no client secret;
# APP_REG_NAME, <APP_NAME>-staff-sign-in),
# INSTANCES (1: the plan's instance count; Basic up to 3, Standard 10, Premium 30),
# AUTOSCALE_MAX (none; M: autoscale on CPU from INSTANCES to M instances, Standard and up),
# PG_SKU (Standard_B1ms) and PG_TIER (from the SKU: Burstable, GeneralPurpose or
# MemoryOptimized; the last two turn on the server's built-in PgBouncer and the app uses it),
# WEB_CONCURRENCY (2 per plan core + 1: gunicorn workers per instance),
# BACKUP_DAYS (7, up to 35: the database's point-in-time restore window), GEO_BACKUP (0; 1:
# geo-redundant backups, chosen when the server is created only), BLOB_RETENTION_DAYS (7: how
# long a deleted photo or container can be brought back), ALERT_EMAIL (none; an address: an
# action group and metric alerts on the web app and the database, docs/operate.md).
# Each instance gets its share of the database's connections (DB_MAX_CONNECTIONS); a
# combination where a worker would get less than one is refused before anything is created
# (docs/scale-out.md).
#
# Tested against azure-cli 2.91.0 with no extension: every call passes its argument parser.
set -euo pipefail
cd "$(dirname "$0")"

if [ -n "${GITHUB_REPO:-}" ] && ! [[ "$GITHUB_REPO" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
  echo "GITHUB_REPO must be owner/name, e.g. contoso/restaurant-review (got: $GITHUB_REPO)" >&2
  exit 2
fi
. scripts/names.sh
PLAN_SKU="${PLAN_SKU:-B1}"
PYTHON_VERSION="${PYTHON_VERSION:-3.11}"
PUBLIC_PHOTOS="${PUBLIC_PHOTOS:-0}"
REDIS="${REDIS:-0}"
REDIS_SKU="${REDIS_SKU:-Balanced_B0}"
ENTRA_SIGN_IN="${ENTRA_SIGN_IN:-0}"
# The app roles' ids: fixed, so the registration made once stays the same.
ADMIN_ROLE_ID="6f1c6a3e-7b2d-4c1e-9a51-3d2f0c8e5a01"
MODERATOR_ROLE_ID="6f1c6a3e-7b2d-4c1e-9a51-3d2f0c8e5a02"

INSTANCES="${INSTANCES:-1}"
AUTOSCALE_MAX="${AUTOSCALE_MAX:-}"
PG_SKU="${PG_SKU:-Standard_B1ms}"
BACKUP_DAYS="${BACKUP_DAYS:-7}"
GEO_BACKUP="${GEO_BACKUP:-0}"
BLOB_RETENTION_DAYS="${BLOB_RETENTION_DAYS:-7}"
ALERT_EMAIL="${ALERT_EMAIL:-}"

refuse() { echo "$*" >&2; exit 2; }
whole_number() {  # whole_number NAME VALUE: at least 1
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || refuse "$1 must be a whole number from 1 (got: $2)"
}
whole_number BACKUP_DAYS "$BACKUP_DAYS"
[ "$BACKUP_DAYS" -ge 7 ] && [ "$BACKUP_DAYS" -le 35 ] || refuse "BACKUP_DAYS must be from 7 to 35 (Flexible Server's backup retention), not $BACKUP_DAYS"
whole_number BLOB_RETENTION_DAYS "$BLOB_RETENTION_DAYS"
[ "$BLOB_RETENTION_DAYS" -le 365 ] || refuse "BLOB_RETENTION_DAYS must be from 1 to 365, not $BLOB_RETENTION_DAYS"
case "$GEO_BACKUP" in 0) geo_backup=Disabled ;; 1) geo_backup=Enabled ;; *) refuse "GEO_BACKUP must be 0 or 1, not $GEO_BACKUP" ;; esac
if [ -n "$ALERT_EMAIL" ] && ! [[ "$ALERT_EMAIL" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]]; then
  refuse "ALERT_EMAIL must be an email address, not $ALERT_EMAIL"
fi

# The plan: cores per instance (gunicorn's workers are 2 per core + 1) and its tier's most
# instances (App Service: Basic 3, Standard 10, Premium 30).
case "$PLAN_SKU" in
  B1) plan_cores=1 plan_limit=3 ;; B2) plan_cores=2 plan_limit=3 ;; B3) plan_cores=4 plan_limit=3 ;;
  S1) plan_cores=1 plan_limit=10 ;; S2) plan_cores=2 plan_limit=10 ;; S3) plan_cores=4 plan_limit=10 ;;
  P0v3|P1v2) plan_cores=1 plan_limit=30 ;;
  P1v3|P2v2|P1mv3) plan_cores=2 plan_limit=30 ;;
  P2v3|P3v2|P2mv3) plan_cores=4 plan_limit=30 ;;
  P3v3|P3mv3) plan_cores=8 plan_limit=30 ;;
  *) plan_cores="" plan_limit="" ;;
esac
if [ -n "${WEB_CONCURRENCY:-}" ]; then
  whole_number WEB_CONCURRENCY "$WEB_CONCURRENCY"
  workers="$WEB_CONCURRENCY"
elif [ -n "$plan_cores" ]; then
  workers=$((2 * plan_cores + 1))
else
  refuse "PLAN_SKU=$PLAN_SKU: its cores are not known here; set WEB_CONCURRENCY (gunicorn workers per instance)"
fi
whole_number INSTANCES "$INSTANCES"
most_instances="$INSTANCES"
if [ -n "$AUTOSCALE_MAX" ]; then
  whole_number AUTOSCALE_MAX "$AUTOSCALE_MAX"
  [ "$AUTOSCALE_MAX" -gt "$INSTANCES" ] || refuse "AUTOSCALE_MAX ($AUTOSCALE_MAX) must be more than INSTANCES ($INSTANCES)"
  [ "${PLAN_SKU#B}" = "$PLAN_SKU" ] || refuse "Autoscale needs a Standard or Premium plan (e.g. PLAN_SKU=S1), not Basic ($PLAN_SKU)"
  most_instances="$AUTOSCALE_MAX"
fi
if [ -n "$plan_limit" ] && [ "$most_instances" -gt "$plan_limit" ]; then
  refuse "PLAN_SKU=$PLAN_SKU runs at most $plan_limit instances, not $most_instances: Basic 3, Standard 10, Premium 30"
fi

# The database: its tier from the SKU, and its connections as Microsoft's table gives them
# (max_connections; Azure keeps 15 of them). General Purpose and Memory Optimized have the
# built-in PgBouncer (port 6432, 5,000 client connections); Burstable has not.
pg_max_connections() {  # pg_max_connections SKU
  local tier size
  tier="$(printf '%s' "$1" | cut -c10)" size="$(printf '%s' "$1" | sed -nE 's/^Standard_[BDE]([0-9]+).*/\1/p')"
  [ -n "$size" ] || return 0  # not a SKU name: nothing
  case "$tier:$size:$1" in
    B:*:Standard_B1ms) echo 50 ;; B:*:Standard_B2s) echo 429 ;; B:*:Standard_B2ms) echo 859 ;;
    B:4:*) echo 1718 ;; B:8:*) echo 3437 ;; B:*) echo 5000 ;;
    D:2:*) echo 859 ;; D:4:*) echo 1718 ;; D:8:*) echo 3437 ;; D:*) echo 5000 ;;
    E:2:*) echo 1718 ;; E:4:*) echo 3437 ;; E:*) echo 5000 ;;
  esac
}
case "$PG_SKU" in
  Standard_B*) sku_tier=Burstable ;;
  Standard_D*) sku_tier=GeneralPurpose ;;
  Standard_E*) sku_tier=MemoryOptimized ;;
  *) sku_tier="" ;;
esac
pg_connections="$(pg_max_connections "$PG_SKU")"
[ -n "$pg_connections" ] && [ -n "$sku_tier" ] || refuse "PG_SKU=$PG_SKU is not a Flexible Server SKU this script knows (e.g. Standard_B1ms, Standard_D2ds_v5, Standard_E2ds_v5)"
PG_TIER="${PG_TIER:-$sku_tier}"
[ "$PG_TIER" = "$sku_tier" ] || refuse "PG_SKU=$PG_SKU is in the $sku_tier tier, not PG_TIER=$PG_TIER"
if [ "$PG_TIER" = Burstable ]; then
  pgbouncer=0
  shared_connections=$((pg_connections - 15))
else
  pgbouncer=1
  shared_connections=5000  # PgBouncer's max_client_conn; it keeps the server's side itself
fi
# Each instance's share, for the most instances there may be (DB_MAX_CONNECTIONS).
DB_MAX_CONNECTIONS=$((shared_connections / most_instances))
if [ "$DB_MAX_CONNECTIONS" -lt "$workers" ]; then
  fits=""
  for sku in Standard_B2s Standard_B2ms Standard_B4ms Standard_B8ms Standard_B12ms; do
    if [ $((($(pg_max_connections "$sku") - 15) / most_instances)) -ge "$workers" ]; then fits="$sku"; break; fi
  done
  refuse "PG_SKU=$PG_SKU has $shared_connections connections for the app: $most_instances instances get $DB_MAX_CONNECTIONS each, fewer than their $workers workers. Use PG_SKU=${fits:-Standard_D2ds_v5} (or a General Purpose SKU, with PgBouncer), or fewer instances."
fi

step() { printf '\n==> %s\n' "$*"; }
exists() { "$@" >/dev/null 2>&1; }
# assign_role PRINCIPAL_ID PRINCIPAL_TYPE ROLE SCOPE: unless it is assigned already.
assign_role() {
  local assigned
  assigned="$(az role assignment list --assignee "$1" --role "$3" --scope "$4" --query "length(@)" --output tsv)"
  if [ "${assigned:-0}" = "0" ]; then
    az role assignment create --assignee-object-id "$1" --assignee-principal-type "$2" \
      --role "$3" --scope "$4" --output none
  fi
}

step "Resource group $RESOURCE_GROUP in $LOCATION"
exists az group show --name "$RESOURCE_GROUP" \
  || az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --output none

step "User-assigned managed identity $IDENTITY_NAME"
exists az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" \
  || az identity create --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --location "$LOCATION" --output none
IDENTITY_ID="$(az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
IDENTITY_CLIENT_ID="$(az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query clientId --output tsv)"
IDENTITY_PRINCIPAL_ID="$(az identity show --name "$IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query principalId --output tsv)"

step "PostgreSQL Flexible Server $DB_SERVER (Microsoft Entra authentication only)"
exists az postgres flexible-server show --name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
  || az postgres flexible-server create --name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
       --location "$LOCATION" --tier "$PG_TIER" --sku-name "$PG_SKU" --storage-size 32 \
       --version 16 --microsoft-entra-auth Enabled --password-auth Disabled \
       --backup-retention "$BACKUP_DAYS" --geo-redundant-backup "$geo_backup" \
       --public-access 0.0.0.0 --yes --output none
# Backups: BACKUP_DAYS of point-in-time restore; geo-redundancy is chosen at creation only.
az postgres flexible-server update --name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
  --backup-retention "$BACKUP_DAYS" --output none
if [ "$GEO_BACKUP" = 1 ] && [ "$(az postgres flexible-server show --name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
     --query backup.geoRedundantBackup --output tsv)" != Enabled ]; then
  echo "NOTE: $DB_SERVER was created without geo-redundant backup, which can only be chosen when a server"
  echo "      is created: restore it to a new server with it (docs/operate.md), or keep it as it is."
fi
exists az postgres flexible-server db show --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" --name "$DB_NAME" \
  || az postgres flexible-server db create --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" --name "$DB_NAME" --output none

# The search's trigram index needs pg_trgm, which Azure lets a database use once allow-listed.
az postgres flexible-server parameter set --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
  --name azure.extensions --value PG_TRGM --output none
if [ "$pgbouncer" = 1 ]; then
  # The built-in PgBouncer (port 6432, transaction pooling); no restart needed.
  az postgres flexible-server parameter set --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
    --name pgbouncer.enabled --value true --output none
fi

step "You (the signed-in user) as the server's Microsoft Entra administrator"
ADMIN_OBJECT_ID="$(az ad signed-in-user show --query id --output tsv)"
ADMIN_UPN="$(az ad signed-in-user show --query userPrincipalName --output tsv)"
az postgres flexible-server microsoft-entra-admin create --server-name "$DB_SERVER" \
  --resource-group "$RESOURCE_GROUP" --display-name "$ADMIN_UPN" --object-id "$ADMIN_OBJECT_ID" \
  --type User --output none

step "Storage account $STORAGE_ACCOUNT and container $STORAGE_CONTAINER"
if [ "$PUBLIC_PHOTOS" = "1" ]; then allow_public=true; container_access=blob; url_mode=public
else allow_public=false; container_access=off; url_mode=sas; fi
exists az storage account show --name "$STORAGE_ACCOUNT" --resource-group "$RESOURCE_GROUP" \
  || az storage account create --name "$STORAGE_ACCOUNT" --resource-group "$RESOURCE_GROUP" \
       --location "$LOCATION" --sku Standard_LRS --kind StorageV2 --min-tls-version TLS1_2 \
       --allow-shared-key-access false --allow-blob-public-access "$allow_public" --output none
exists az storage container-rm show --storage-account "$STORAGE_ACCOUNT" --resource-group "$RESOURCE_GROUP" --name "$STORAGE_CONTAINER" \
  || az storage container-rm create --storage-account "$STORAGE_ACCOUNT" --resource-group "$RESOURCE_GROUP" \
       --name "$STORAGE_CONTAINER" --public-access "$container_access" --output none
# A deleted photo (or container) can be brought back for BLOB_RETENTION_DAYS (docs/operate.md).
az storage account blob-service-properties update --account-name "$STORAGE_ACCOUNT" --resource-group "$RESOURCE_GROUP" \
  --enable-delete-retention true --delete-retention-days "$BLOB_RETENTION_DAYS" \
  --enable-container-delete-retention true --container-delete-retention-days "$BLOB_RETENTION_DAYS" --output none
STORAGE_ID="$(az storage account show --name "$STORAGE_ACCOUNT" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"

step "Storage Blob Data Contributor for the identity (uploads and user-delegation keys)"
assign_role "$IDENTITY_PRINCIPAL_ID" ServicePrincipal "Storage Blob Data Contributor" "$STORAGE_ID"

step "The identity's database role and its schema grant (as you, the Entra administrator)"
# Your public address, as a public echo service sees it (not an Azure call, so not through az).
DEPLOYER_IP="${DEPLOYER_IP:-$(curl --fail --silent --show-error --max-time 10 https://api.ipify.org 2>/dev/null || true)}"
if [ -n "$DEPLOYER_IP" ]; then
  az postgres flexible-server firewall-rule create --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
    --name deploy-grant --start-ip-address "$DEPLOYER_IP" --end-ip-address "$DEPLOYER_IP" --output none
fi
# The app's own command, as you: its token backend gets your Entra token from your `az login`
# (DefaultAzureCredential), so no token is on any command line, and psycopg quotes the SQL. It
# creates the identity's role unless it exists, then grants it USAGE and CREATE on schema
# public (PostgreSQL 15+: without it, migrate fails with "permission denied for schema public")
# and creates the pg_trgm extension for the search index.
. scripts/python-env.sh
use_python requirements.txt
DBHOST="$DB_SERVER" DBNAME="$DB_NAME" DBUSER="$ADMIN_UPN" \
  "$PYTHON" manage.py grant_identity_access --principal "$IDENTITY_NAME" --object-id "$IDENTITY_PRINCIPAL_ID"
if [ -n "$DEPLOYER_IP" ]; then
  az postgres flexible-server firewall-rule delete --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
    --name deploy-grant --yes --output none
fi

REDIS_HOST=""
if [ "$REDIS" = "1" ]; then
  step "Azure Managed Redis $REDIS_NAME (Microsoft Entra authentication only, no access keys)"
  # Only an extension has `az redisenterprise`, so the cluster, its database and the access
  # policy go through ARM with core `az resource`, Microsoft.Cache api-version 2025-04-01 (GA,
  # with accessKeysAuthentication and Entra access policy assignments).
  redis_api=2025-04-01
  exists az resource show --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Cache \
      --resource-type redisEnterprise --name "$REDIS_NAME" --api-version "$redis_api" \
    || az resource create --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Cache \
         --resource-type redisEnterprise --name "$REDIS_NAME" --api-version "$redis_api" \
         --is-full-object --properties "$(printf '{"location": "%s", "sku": {"name": "%s"}, "properties": {"minimumTlsVersion": "1.2"}}' "$LOCATION" "$REDIS_SKU")" \
         --output none
  # The one database: TLS on port 10000, one endpoint (EnterpriseCluster), no access keys.
  exists az resource show --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Cache \
      --parent "redisEnterprise/$REDIS_NAME" --resource-type databases --name default --api-version "$redis_api" \
    || az resource create --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Cache \
         --parent "redisEnterprise/$REDIS_NAME" --resource-type databases --name default --api-version "$redis_api" \
         --properties '{"clientProtocol": "Encrypted", "port": 10000, "clusteringPolicy": "EnterpriseCluster", "evictionPolicy": "VolatileLRU", "accessKeysAuthentication": "Disabled"}' \
         --output none
  REDIS_HOST="$(az resource show --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Cache \
    --resource-type redisEnterprise --name "$REDIS_NAME" --api-version "$redis_api" \
    --query properties.hostName --output tsv)"
  # The identity's data access policy: it logs in with its token, as the user named by its
  # object id.
  exists az resource show --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Cache \
      --parent "redisEnterprise/$REDIS_NAME/databases/default" --resource-type accessPolicyAssignments \
      --name appidentity --api-version "$redis_api" \
    || az resource create --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Cache \
         --parent "redisEnterprise/$REDIS_NAME/databases/default" --resource-type accessPolicyAssignments \
         --name appidentity --api-version "$redis_api" \
         --properties "$(printf '{"accessPolicyName": "default", "user": {"objectId": "%s"}}' "$IDENTITY_PRINCIPAL_ID")" \
         --output none
fi

step "App Service plan $PLAN_NAME ($PLAN_SKU, Linux, $INSTANCES instances) and web app $APP_NAME"
if exists az appservice plan show --name "$PLAN_NAME" --resource-group "$RESOURCE_GROUP"; then
  # Autoscale, when on, decides the count between its bounds.
  [ -n "$AUTOSCALE_MAX" ] || az appservice plan update --name "$PLAN_NAME" --resource-group "$RESOURCE_GROUP" \
    --number-of-workers "$INSTANCES" --output none
else
  az appservice plan create --name "$PLAN_NAME" --resource-group "$RESOURCE_GROUP" \
    --location "$LOCATION" --sku "$PLAN_SKU" --is-linux --number-of-workers "$INSTANCES" --output none
fi
if [ -n "$AUTOSCALE_MAX" ]; then
  # Out by one instance when the plan's CPU averages over 70 % for 10 minutes, in by one under
  # 30 %, never outside INSTANCES..AUTOSCALE_MAX.
  if exists az monitor autoscale show --name "$AUTOSCALE_NAME" --resource-group "$RESOURCE_GROUP"; then
    az monitor autoscale update --name "$AUTOSCALE_NAME" --resource-group "$RESOURCE_GROUP" \
      --min-count "$INSTANCES" --max-count "$AUTOSCALE_MAX" --count "$INSTANCES" --output none
  else
    PLAN_ID="$(az appservice plan show --name "$PLAN_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
    az monitor autoscale create --name "$AUTOSCALE_NAME" --resource-group "$RESOURCE_GROUP" \
      --resource "$PLAN_ID" --min-count "$INSTANCES" --max-count "$AUTOSCALE_MAX" --count "$INSTANCES" --output none
    az monitor autoscale rule create --autoscale-name "$AUTOSCALE_NAME" --resource-group "$RESOURCE_GROUP" \
      --condition "CpuPercentage > 70 avg 10m" --scale out 1 --output none
    az monitor autoscale rule create --autoscale-name "$AUTOSCALE_NAME" --resource-group "$RESOURCE_GROUP" \
      --condition "CpuPercentage < 30 avg 10m" --scale in 1 --output none
  fi
fi
if [ "$most_instances" -gt 1 ] && [ "$REDIS" != 1 ]; then
  echo "NOTE: up to $most_instances instances without REDIS=1: each draws and caches every page for itself"
  echo "      (posting limits are shared: they count in the database). REDIS=1 shares the page cache"
  echo "      between instances (docs/scale-out.md)."
fi
exists az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  || az webapp create --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --plan "$PLAN_NAME" \
       --runtime "PYTHON:$PYTHON_VERSION" --output none
az webapp identity assign --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --identities "$IDENTITY_ID" --output none

step "Key Vault $KEY_VAULT (Azure RBAC) holding SECRET_KEY, made once and kept"
exists az keyvault show --name "$KEY_VAULT" --resource-group "$RESOURCE_GROUP" \
  || az keyvault create --name "$KEY_VAULT" --resource-group "$RESOURCE_GROUP" --location "$LOCATION" \
       --enable-rbac-authorization true --output none
KEY_VAULT_ID="$(az keyvault show --name "$KEY_VAULT" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
KEY_VAULT_URI="$(az keyvault show --name "$KEY_VAULT" --resource-group "$RESOURCE_GROUP" --query properties.vaultUri --output tsv)"
# You write the secret (with Azure RBAC its creator has no access to secrets of its own); the
# identity reads it, for App Service's Key Vault reference.
assign_role "$ADMIN_OBJECT_ID" User "Key Vault Secrets Officer" "$KEY_VAULT_ID"
assign_role "$IDENTITY_PRINCIPAL_ID" ServicePrincipal "Key Vault Secrets User" "$KEY_VAULT_ID"
if ! exists az keyvault secret show --vault-name "$KEY_VAULT" --name "$SECRET_NAME"; then
  # The value goes through a file only you can read, never a command line. An earlier deploy's
  # SECRET_KEY app setting moves into the vault (sessions and CSRF tokens stay valid).
  secret_file="$(mktemp)"
  trap 'rm -f "$secret_file"' EXIT
  chmod 600 "$secret_file"
  existing="$(az webapp config appsettings list --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
    --query "[?name=='SECRET_KEY'].value | [0]" --output tsv 2>/dev/null || true)"
  if [ -n "$existing" ] && [ "${existing#@Microsoft.KeyVault}" = "$existing" ]; then
    printf '%s' "$existing" >"$secret_file"
  else
    python3 -c 'import secrets; print(secrets.token_urlsafe(50), end="")' >"$secret_file"
  fi
  unset existing
  # A new role assignment takes a few minutes to apply: try again until it does.
  for attempt in 1 2 3 4 5 6 7 8 9 10 11 12; do
    if az keyvault secret set --vault-name "$KEY_VAULT" --name "$SECRET_NAME" \
         --file "$secret_file" --encoding utf-8 --output none; then break; fi
    [ "$attempt" = 12 ] && { rm -f "$secret_file"; echo "Could not store $SECRET_NAME in $KEY_VAULT" >&2; exit 1; }
    echo "Waiting for the Key Vault Secrets Officer role to apply ..."
    sleep "${DEPLOY_RETRY_SECONDS:-20}"
  done
  rm -f "$secret_file"
fi
# App Service reads Key Vault references with the system-assigned identity unless told which.
az webapp update --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --set keyVaultReferenceIdentity="$IDENTITY_ID" --output none

step "Log Analytics workspace and Application Insights (Microsoft Entra ingestion only)"
exists az monitor log-analytics workspace show --workspace-name "$WORKSPACE_NAME" --resource-group "$RESOURCE_GROUP" \
  || az monitor log-analytics workspace create --workspace-name "$WORKSPACE_NAME" \
       --resource-group "$RESOURCE_GROUP" --location "$LOCATION" --output none
WORKSPACE_ID="$(az monitor log-analytics workspace show --workspace-name "$WORKSPACE_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
# Only an extension has `az monitor app-insights`: the component through ARM with core
# `az resource`, Microsoft.Insights api-version 2020-02-02 (workspace-based, DisableLocalAuth).
insights_api=2020-02-02
exists az resource show --resource-group "$RESOURCE_GROUP" --resource-type Microsoft.Insights/components \
    --name "$APPINSIGHTS_NAME" --api-version "$insights_api" \
  || az resource create --resource-group "$RESOURCE_GROUP" --resource-type Microsoft.Insights/components \
       --name "$APPINSIGHTS_NAME" --api-version "$insights_api" --is-full-object \
       --properties "$(printf '{"location": "%s", "kind": "web", "properties": {"Application_Type": "web", "WorkspaceResourceId": "%s", "DisableLocalAuth": true}}' "$LOCATION" "$WORKSPACE_ID")" \
       --output none
APPINSIGHTS_ID="$(az resource show --resource-group "$RESOURCE_GROUP" --resource-type Microsoft.Insights/components \
  --name "$APPINSIGHTS_NAME" --api-version "$insights_api" --query id --output tsv)"
# Local (instrumentation key) authentication off: only Entra tokens may send telemetry.
az resource update --ids "$APPINSIGHTS_ID" --api-version "$insights_api" \
  --set properties.DisableLocalAuth=true --output none
assign_role "$IDENTITY_PRINCIPAL_ID" ServicePrincipal "Monitoring Metrics Publisher" "$APPINSIGHTS_ID"
APPINSIGHTS_CONNECTION_STRING="$(az resource show --ids "$APPINSIGHTS_ID" --api-version "$insights_api" \
  --query properties.ConnectionString --output tsv)"

if [ "$ENTRA_SIGN_IN" = "1" ]; then
  step "Staff sign-in with Microsoft Entra ID: app registration $APP_REG_NAME, no client secret"
  TENANT_ID="$(az account show --query tenantId --output tsv)"
  SITE_HOST="$(az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --query defaultHostName --output tsv)"
  WEBAPP_ID="$(az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
  # Single tenant, the two app roles the app reads (fixed ids: a second run changes nothing),
  # and App Service's sign-in callback.
  roles_file="$(mktemp)"
  cat >"$roles_file" <<JSON
[{"id": "$ADMIN_ROLE_ID", "value": "Admin", "displayName": "Admin", "isEnabled": true,
  "allowedMemberTypes": ["User"], "description": "Full Django admin of Restaurant Review."},
 {"id": "$MODERATOR_ROLE_ID", "value": "Moderator", "displayName": "Moderator", "isEnabled": true,
  "allowedMemberTypes": ["User"], "description": "Reviews and reports in Restaurant Review's admin."}]
JSON
  APP_ID="$(az ad app list --display-name "$APP_REG_NAME" --query "[0].appId" --output tsv)"
  if [ -z "$APP_ID" ]; then
    az ad app create --display-name "$APP_REG_NAME" --sign-in-audience AzureADMyOrg \
      --web-redirect-uris "https://$SITE_HOST/.auth/login/aad/callback" \
      --enable-id-token-issuance true --app-roles "@$roles_file" --output none
    APP_ID="$(az ad app list --display-name "$APP_REG_NAME" --query "[0].appId" --output tsv)"
  fi
  rm -f "$roles_file"
  exists az ad sp show --id "$APP_ID" || az ad sp create --id "$APP_ID" --output none
  SP_ID="$(az ad sp show --id "$APP_ID" --query id --output tsv)"
  # Instead of a client secret, the registration trusts the app's own managed identity: App
  # Service signs its token requests with the identity's token (OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID).
  if ! exists az ad app federated-credential show --id "$APP_ID" --federated-credential-id app-identity; then
    az ad app federated-credential create --id "$APP_ID" --output none --parameters "$(printf \
      '{"name": "app-identity", "issuer": "https://login.microsoftonline.com/%s/v2.0", "subject": "%s", "audiences": ["api://AzureADTokenExchange"]}' \
      "$TENANT_ID" "$IDENTITY_PRINCIPAL_ID")"
  fi
  # App Service authentication v2 (no core verb has it: ARM, Microsoft.Web api-version
  # 2024-04-01): anonymous requests allowed (the app decides: only /admin/ needs sign-in).
  az rest --method put --url "https://management.azure.com${WEBAPP_ID}/config/authsettingsV2?api-version=2024-04-01" \
    --output none --body "$(printf '{"properties": {"platform": {"enabled": true}, "globalValidation": {"requireAuthentication": false, "unauthenticatedClientAction": "AllowAnonymous"}, "identityProviders": {"azureActiveDirectory": {"enabled": true, "registration": {"openIdIssuer": "https://sts.windows.net/%s/v2.0", "clientId": "%s", "clientSecretSettingName": "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"}, "validation": {"allowedAudiences": ["api://%s"]}}}, "login": {"tokenStore": {"enabled": false}}}}' \
      "$TENANT_ID" "$APP_ID" "$APP_ID")"
  # You get the Admin role (Microsoft Graph: the service principal's appRoleAssignedTo).
  graph="https://graph.microsoft.com/v1.0/servicePrincipals/$SP_ID/appRoleAssignedTo"
  assigned="$(az rest --method get --url "$graph" \
    --query "length(value[?principalId=='$ADMIN_OBJECT_ID' && appRoleId=='$ADMIN_ROLE_ID'])" --output tsv)"
  if [ "${assigned:-0}" = "0" ]; then
    az rest --method post --url "$graph" --output none --body "$(printf \
      '{"principalId": "%s", "resourceId": "%s", "appRoleId": "%s"}' "$ADMIN_OBJECT_ID" "$SP_ID" "$ADMIN_ROLE_ID")"
  fi
fi

step "App settings (no passwords, no keys; SECRET_KEY a Key Vault reference)"
settings=(
  "AZURE_CLIENT_ID=$IDENTITY_CLIENT_ID"
  "DBHOST=$DB_SERVER"
  "DBNAME=$DB_NAME"
  "DBUSER=$IDENTITY_NAME"
  "STORAGE_ACCOUNT_NAME=$STORAGE_ACCOUNT"
  "STORAGE_CONTAINER_NAME=$STORAGE_CONTAINER"
  "STORAGE_URL_MODE=$url_mode"
  "SECRET_KEY=@Microsoft.KeyVault(SecretUri=${KEY_VAULT_URI%/}/secrets/$SECRET_NAME/)"
  "APPLICATIONINSIGHTS_CONNECTION_STRING=$APPINSIGHTS_CONNECTION_STRING"
  "SCM_DO_BUILD_DURING_DEPLOYMENT=true"
  # This instance's share of the database's connections, for the workers deploy.sh counted.
  "DB_MAX_CONNECTIONS=$DB_MAX_CONNECTIONS"
  "WEB_CONCURRENCY=$workers"
)
if [ "$pgbouncer" = 1 ]; then settings+=("DBPORT=6432"); fi
if [ -n "$REDIS_HOST" ]; then settings+=("REDIS_HOST=$REDIS_HOST"); fi
if [ "$ENTRA_SIGN_IN" = "1" ]; then settings+=("OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID=$IDENTITY_CLIENT_ID"); fi
# The settings go to az in a file only you can read (az's --settings @file), not on its
# command line.
settings_file="$(mktemp)"
trap 'rm -f "$settings_file" "${secret_file:-}"' EXIT
chmod 600 "$settings_file"
python3 - "$settings_file" "${settings[@]}" <<'PY'
import json, sys
path, pairs = sys.argv[1], [pair.split("=", 1) for pair in sys.argv[2:]]
with open(path, "w") as settings:
    json.dump([{"name": n, "value": v, "slotSetting": False} for n, v in pairs], settings)
PY
az webapp config appsettings set --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --settings "@$settings_file" --output none

step "Startup command, health check, HTTPS only, no ARR affinity"
az webapp config set --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --startup-file "start.sh" --ftps-state Disabled --min-tls-version 1.2 \
  --generic-configurations '{"healthCheckPath": "/healthz"}' --output none
# No ARR affinity: any instance serves any request (sessions live in the database), so App
# Service's sticky-session cookie would only keep load uneven.
az webapp update --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --https-only true \
  --client-affinity-enabled false --output none

# Publishing profiles (user name and password for FTP and the SCM site) exist on every new web
# app: switched off, so deploys go through Microsoft Entra only (az webapp deploy does).
for policy in scm ftp; do
  az resource update --resource-group "$RESOURCE_GROUP" --namespace Microsoft.Web \
    --parent "sites/$APP_NAME" --resource-type basicPublishingCredentialsPolicies --name "$policy" \
    --set properties.allow=false --output none
done

if [ -n "$ALERT_EMAIL" ]; then
  step "Alerts by email to $ALERT_EMAIL (action group $ACTION_GROUP)"
  exists az monitor action-group show --name "$ACTION_GROUP" --resource-group "$RESOURCE_GROUP" \
    || az monitor action-group create --name "$ACTION_GROUP" --resource-group "$RESOURCE_GROUP" \
         --short-name "$(printf '%s' "$APP_NAME" | tr -cd 'a-zA-Z0-9' | cut -c1-12)" \
         --action email operator "$ALERT_EMAIL" --output none
  ACTION_GROUP_ID="$(az monitor action-group show --name "$ACTION_GROUP" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
  WEBAPP_ID="$(az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
  DB_ID="$(az postgres flexible-server show --name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
  # metric_alert NAME SCOPE CONDITION WINDOW SEVERITY DESCRIPTION (checked every minute)
  metric_alert() {
    exists az monitor metrics alert show --name "$1" --resource-group "$RESOURCE_GROUP" \
      || az monitor metrics alert create --name "$1" --resource-group "$RESOURCE_GROUP" --scopes "$2" \
           --condition "$3" --window-size "$4" --evaluation-frequency 1m --severity "$5" \
           --description "$6" --action "$ACTION_GROUP_ID" --output none
  }
  metric_alert "$APP_NAME-http-5xx" "$WEBAPP_ID" "total Http5xx > 10" 5m 1 \
    "More than 10 server errors (5xx) in 5 minutes"
  metric_alert "$APP_NAME-health-check" "$WEBAPP_ID" "avg HealthCheckStatus < 100" 5m 1 \
    "An instance fails App Service's health check (/healthz)"
  metric_alert "$DB_SERVER-connections" "$DB_ID" "max active_connections > $((pg_connections * 8 / 10))" 5m 2 \
    "Database connections above 80 % of the tier's max_connections"
  metric_alert "$DB_SERVER-storage" "$DB_ID" "avg storage_percent > 80" 15m 2 \
    "Database storage over 80 % full"
  metric_alert "$DB_SERVER-cpu" "$DB_ID" "avg cpu_percent > 80" 15m 2 \
    "Database CPU above 80 % for 15 minutes"
fi

if [ -n "${GITHUB_REPO:-}" ]; then
  step "Deployment pipeline identity $PIPELINE_IDENTITY_NAME for GitHub $GITHUB_REPO (OpenID Connect, no secret)"
  # Its own identity, never the app's: it may publish code to this web app and nothing else.
  exists az identity show --name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" \
    || az identity create --name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --location "$LOCATION" --output none
  PIPELINE_CLIENT_ID="$(az identity show --name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query clientId --output tsv)"
  PIPELINE_PRINCIPAL_ID="$(az identity show --name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --query principalId --output tsv)"
  # GitHub's token for a job on main names the branch; for a job in the production
  # environment (the deploy workflow's), the environment. Each subject gets its credential.
  for credential in "github-main:repo:$GITHUB_REPO:ref:refs/heads/main" \
                    "github-production:repo:$GITHUB_REPO:environment:production"; do
    exists az identity federated-credential show --name "${credential%%:*}" \
        --identity-name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" \
      || az identity federated-credential create --name "${credential%%:*}" \
           --identity-name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" \
           --issuer https://token.actions.githubusercontent.com --subject "${credential#*:}" \
           --audiences api://AzureADTokenExchange --output none
  done
  WEBAPP_ID="$(az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"
  assign_role "$PIPELINE_PRINCIPAL_ID" ServicePrincipal "Website Contributor" "$WEBAPP_ID"
fi

step "Code (git HEAD), built by App Service (pip install -r requirements.txt)"
APP_NAME="$APP_NAME" RESOURCE_GROUP="$RESOURCE_GROUP" scripts/deploy-code.sh

step "Done: https://$(az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --query defaultHostName --output tsv)"
if [ "$ENTRA_SIGN_IN" = "1" ]; then
  echo "Sign in at https://$SITE_HOST/admin/ with your Microsoft Entra account (you have the Admin role)."
  echo "Give others Admin or Moderator in Entra: Enterprise applications > $APP_REG_NAME > Users and groups."
else
  echo "Create an admin user: az webapp ssh --name $APP_NAME --resource-group $RESOURCE_GROUP, then"
  echo "  python3 manage.py createsuperuser"
fi
if [ -n "${GITHUB_REPO:-}" ]; then
  echo
  echo "Set these variables (not secrets: none is) in GitHub, $GITHUB_REPO > Settings > Secrets and variables > Actions > Variables:"
  echo "  AZURE_CLIENT_ID=$PIPELINE_CLIENT_ID"
  echo "  AZURE_TENANT_ID=$(az account show --query tenantId --output tsv)"
  echo "  AZURE_SUBSCRIPTION_ID=$(az account show --query id --output tsv)"
  echo "  AZURE_WEBAPP_NAME=$APP_NAME"
  echo "  AZURE_RESOURCE_GROUP=$RESOURCE_GROUP"
  echo "and create the environment production (Settings > Environments) for the deploy workflow."
fi
