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
# allowed through the database firewall while the grant runs; asked of `az` when unset),
# REDIS (0; 1: an Azure Managed Redis shared page cache, Entra authentication only),
# REDIS_NAME, REDIS_SKU (Balanced_B0).
set -euo pipefail
cd "$(dirname "$0")"

: "${APP_NAME:?set APP_NAME to the web app name (globally unique, e.g. my-reviews)}"
LOCATION="${LOCATION:-eastus}"
RESOURCE_GROUP="${RESOURCE_GROUP:-${APP_NAME}-rg}"
DB_SERVER="${DB_SERVER:-${APP_NAME}-db}"
DB_NAME="${DB_NAME:-restaurant}"
IDENTITY_NAME="${IDENTITY_NAME:-${APP_NAME}-identity}"
PLAN_NAME="${PLAN_NAME:-${APP_NAME}-plan}"
PLAN_SKU="${PLAN_SKU:-B1}"
PYTHON_VERSION="${PYTHON_VERSION:-3.11}"
STORAGE_CONTAINER="${STORAGE_CONTAINER:-photos}"
PUBLIC_PHOTOS="${PUBLIC_PHOTOS:-0}"
# Storage account names: 3-24 lowercase letters and digits.
default_account="$(printf '%s' "${APP_NAME}photos" | tr -cd 'a-z0-9' | cut -c1-24)"
STORAGE_ACCOUNT="${STORAGE_ACCOUNT:-$default_account}"
REDIS="${REDIS:-0}"
REDIS_NAME="${REDIS_NAME:-${APP_NAME}-cache}"
REDIS_SKU="${REDIS_SKU:-Balanced_B0}"

step() { printf '\n==> %s\n' "$*"; }
exists() { "$@" >/dev/null 2>&1; }

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
       --location "$LOCATION" --tier Burstable --sku-name Standard_B1ms --storage-size 32 \
       --version 16 --microsoft-entra-auth Enabled --password-auth Disabled \
       --public-access 0.0.0.0 --yes --output none
exists az postgres flexible-server db show --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" --database-name "$DB_NAME" \
  || az postgres flexible-server db create --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" --database-name "$DB_NAME" --output none

# The search's trigram index needs pg_trgm, which Azure lets a database use once allow-listed.
az postgres flexible-server parameter set --server-name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
  --name azure.extensions --value PG_TRGM --output none

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
STORAGE_ID="$(az storage account show --name "$STORAGE_ACCOUNT" --resource-group "$RESOURCE_GROUP" --query id --output tsv)"

step "Storage Blob Data Contributor for the identity (uploads and user-delegation keys)"
assigned="$(az role assignment list --assignee "$IDENTITY_PRINCIPAL_ID" --role "Storage Blob Data Contributor" --scope "$STORAGE_ID" --query "length(@)" --output tsv)"
if [ "${assigned:-0}" = "0" ]; then
  az role assignment create --assignee-object-id "$IDENTITY_PRINCIPAL_ID" \
    --assignee-principal-type ServicePrincipal --role "Storage Blob Data Contributor" \
    --scope "$STORAGE_ID" --output none
fi

step "The identity's database role and its schema grant (as you, the Entra administrator)"
DEPLOYER_IP="${DEPLOYER_IP:-$(az rest --method get --url "https://api.ipify.org?format=json" --skip-authorization-header --query ip --output tsv 2>/dev/null || true)}"
if [ -n "$DEPLOYER_IP" ]; then
  az postgres flexible-server firewall-rule create --name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
    --rule-name deploy-grant --start-ip-address "$DEPLOYER_IP" --end-ip-address "$DEPLOYER_IP" --output none
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
  az postgres flexible-server firewall-rule delete --name "$DB_SERVER" --resource-group "$RESOURCE_GROUP" \
    --rule-name deploy-grant --yes --output none
fi

REDIS_HOST=""
if [ "$REDIS" = "1" ]; then
  step "Azure Managed Redis $REDIS_NAME (Microsoft Entra authentication only, no access keys)"
  exists az redisenterprise show --cluster-name "$REDIS_NAME" --resource-group "$RESOURCE_GROUP" \
    || az redisenterprise create --cluster-name "$REDIS_NAME" --resource-group "$RESOURCE_GROUP" \
         --location "$LOCATION" --sku "$REDIS_SKU" --clustering-policy EnterpriseCluster \
         --access-keys-auth Disabled --minimum-tls-version 1.2 --output none
  REDIS_HOST="$(az redisenterprise show --cluster-name "$REDIS_NAME" --resource-group "$RESOURCE_GROUP" --query hostName --output tsv)"
  # The identity's data access policy: it logs in with its token, as the user named by its
  # object id.
  policies="$(az redisenterprise database access-policy-assignment list --cluster-name "$REDIS_NAME" \
    --resource-group "$RESOURCE_GROUP" --database-name default \
    --query "length([?user.objectId=='$IDENTITY_PRINCIPAL_ID'])" --output tsv)"
  if [ "${policies:-0}" = "0" ]; then
    az redisenterprise database access-policy-assignment create --cluster-name "$REDIS_NAME" \
      --resource-group "$RESOURCE_GROUP" --database-name default \
      --access-policy-assignment-name appidentity --access-policy-name default \
      --object-id "$IDENTITY_PRINCIPAL_ID" --output none
  fi
fi

step "App Service plan $PLAN_NAME ($PLAN_SKU, Linux) and web app $APP_NAME"
exists az appservice plan show --name "$PLAN_NAME" --resource-group "$RESOURCE_GROUP" \
  || az appservice plan create --name "$PLAN_NAME" --resource-group "$RESOURCE_GROUP" \
       --location "$LOCATION" --sku "$PLAN_SKU" --is-linux --output none
exists az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  || az webapp create --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --plan "$PLAN_NAME" \
       --runtime "PYTHON:$PYTHON_VERSION" --output none
az webapp identity assign --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --identities "$IDENTITY_ID" --output none

step "App settings (no passwords, no keys; SECRET_KEY made once and kept)"
SECRET_KEY_SET="$(az webapp config appsettings list --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --query "length([?name=='SECRET_KEY'])" --output tsv)"
settings=(
  "AZURE_CLIENT_ID=$IDENTITY_CLIENT_ID"
  "DBHOST=$DB_SERVER"
  "DBNAME=$DB_NAME"
  "DBUSER=$IDENTITY_NAME"
  "STORAGE_ACCOUNT_NAME=$STORAGE_ACCOUNT"
  "STORAGE_CONTAINER_NAME=$STORAGE_CONTAINER"
  "STORAGE_URL_MODE=$url_mode"
  "SCM_DO_BUILD_DURING_DEPLOYMENT=true"
)
if [ -n "$REDIS_HOST" ]; then settings+=("REDIS_HOST=$REDIS_HOST"); fi
# The settings go in a file only you can read (az's --settings @file), never on a command line
# where `ps` would show SECRET_KEY; the key itself passes through the environment.
settings_file="$(mktemp)"
trap 'rm -f "$settings_file"' EXIT
chmod 600 "$settings_file"
SECRET_KEY_NEW=""
if [ "${SECRET_KEY_SET:-0}" = "0" ]; then
  SECRET_KEY_NEW="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
fi
SECRET_KEY_NEW="$SECRET_KEY_NEW" python3 - "$settings_file" "${settings[@]}" <<'PY'
import json, os, sys
path, pairs = sys.argv[1], [pair.split("=", 1) for pair in sys.argv[2:]]
if os.environ["SECRET_KEY_NEW"]:
    pairs.append(["SECRET_KEY", os.environ["SECRET_KEY_NEW"]])
with open(path, "w") as settings:
    json.dump([{"name": n, "value": v, "slotSetting": False} for n, v in pairs], settings)
PY
unset SECRET_KEY_NEW
az webapp config appsettings set --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --settings "@$settings_file" --output none

step "Startup command, health check, HTTPS only"
az webapp config set --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --startup-file "start.sh" --ftps-state Disabled --min-tls-version 1.2 \
  --generic-configurations '{"healthCheckPath": "/healthz"}' --output none
az webapp update --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --https-only true --output none

step "Code (git HEAD), built by App Service (pip install -r requirements.txt)"
package="$(mktemp -d)/restaurant-review.zip"
git archive --format=zip --output "$package" HEAD
az webapp deploy --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --src-path "$package" \
  --type zip --output none
rm -f "$package"

step "Done: https://$(az webapp show --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" --query defaultHostName --output tsv)"
echo "Create an admin user: az webapp ssh --name $APP_NAME --resource-group $RESOURCE_GROUP, then"
echo "  python3 manage.py createsuperuser"
