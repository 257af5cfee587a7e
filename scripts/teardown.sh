#!/usr/bin/env bash
# Delete everything deploy.sh made, so nothing is billed and the names are free again: the
# Entra app registration for staff sign-in (it lives in the tenant, not the group), the deploy
# identity's federated credentials, the Log Analytics workspace for good (a deleted one is
# kept 14 days and comes back under its name), the resource group and all in it, and then the
# Key Vault, purged (a deleted vault is kept 90 days and blocks a new deploy under its name).
# Database backups and deleted photos go with their server and account: nothing is left to
# restore from.
#
#   APP_NAME=my-reviews scripts/teardown.sh          # asks you to type the group's name
#   APP_NAME=my-reviews scripts/teardown.sh --yes    # no question (scripts)
#
# Same settings as deploy.sh (APP_NAME, RESOURCE_GROUP, KEY_VAULT, APP_REG_NAME, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/names.sh

case "${1:-}" in
  --yes) ;;
  "")
    echo "This deletes resource group $RESOURCE_GROUP and everything in it (the database and its backups,"
    echo "the photos, the vault $KEY_VAULT, purged), and the app registration $APP_REG_NAME. It cannot be undone."
    read -r -p "Type the resource group's name to go on: " answer || answer=""
    if [ "$answer" != "$RESOURCE_GROUP" ]; then echo "Nothing deleted." >&2; exit 1; fi
    ;;
  *) echo "Unknown option: $1 (--yes, or nothing to be asked)" >&2; exit 2 ;;
esac

step() { printf '\n==> %s\n' "$*"; }
exists() { "$@" >/dev/null 2>&1; }

step "Staff sign-in app registration $APP_REG_NAME (Microsoft Entra ID)"
APP_ID="$(az ad app list --display-name "$APP_REG_NAME" --query "[0].appId" --output tsv)"
if [ -n "$APP_ID" ]; then
  az ad app delete --id "$APP_ID"
else
  echo "none"
fi

if exists az group show --name "$RESOURCE_GROUP"; then
  step "Federated credentials of the deploy identity $PIPELINE_IDENTITY_NAME"
  if exists az identity show --name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP"; then
    for credential in $(az identity federated-credential list --identity-name "$PIPELINE_IDENTITY_NAME" \
        --resource-group "$RESOURCE_GROUP" --query "[].name" --output tsv); do
      az identity federated-credential delete --name "$credential" \
        --identity-name "$PIPELINE_IDENTITY_NAME" --resource-group "$RESOURCE_GROUP" --yes
    done
  fi
  step "Log Analytics workspace $WORKSPACE_NAME, for good"
  if exists az monitor log-analytics workspace show --workspace-name "$WORKSPACE_NAME" --resource-group "$RESOURCE_GROUP"; then
    az monitor log-analytics workspace delete --workspace-name "$WORKSPACE_NAME" \
      --resource-group "$RESOURCE_GROUP" --force true --yes
  fi
  step "Resource group $RESOURCE_GROUP and everything in it (this takes minutes)"
  az group delete --name "$RESOURCE_GROUP" --yes
else
  step "Resource group $RESOURCE_GROUP: already gone"
fi

step "Key Vault $KEY_VAULT, purged"
if exists az keyvault show-deleted --name "$KEY_VAULT"; then
  az keyvault purge --name "$KEY_VAULT"
else
  echo "not among the deleted vaults"
fi
step "Done: nothing of $APP_NAME is left"
