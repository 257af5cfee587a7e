#!/usr/bin/env bash
# Rotate SECRET_KEY without signing anyone out: a new version of the Key Vault secret becomes
# SECRET_KEY, and the version before it becomes SECRET_KEY_FALLBACKS (a Key Vault reference to
# that version), so sessions and forms signed with it keep working. Changing the app setting
# restarts the app, which fetches both references again. Once every session signed with the old
# key has ended (two weeks: Django's session age), drop the fallback.
#
#   APP_NAME=my-reviews scripts/rotate-secret-key.sh                   # rotate
#   APP_NAME=my-reviews scripts/rotate-secret-key.sh --drop-fallback   # later
#
# Same settings as deploy.sh (APP_NAME, RESOURCE_GROUP, KEY_VAULT, ...). Needs the Key Vault
# Secrets Officer role on the vault, which deploy.sh gave whoever ran it. The key goes through a
# file only you can read, never a command line, and is never printed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/names.sh

if [ "${1:-}" = "--drop-fallback" ]; then
  az webapp config appsettings delete --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
    --setting-names SECRET_KEY_FALLBACKS --output none
  echo "SECRET_KEY_FALLBACKS removed: only the current key is accepted (the app restarts)."
  exit 0
fi
[ -z "${1:-}" ] || { echo "Unknown option: $1 (--drop-fallback, or nothing to rotate)" >&2; exit 2; }

# The current version, by its id (https://VAULT.vault.azure.net/secrets/NAME/VERSION).
previous="$(az keyvault secret show --vault-name "$KEY_VAULT" --name "$SECRET_NAME" --query id --output tsv)"
[ -n "$previous" ] || { echo "No secret $SECRET_NAME in $KEY_VAULT: run deploy.sh first" >&2; exit 1; }

secret_file="$(mktemp)"
trap 'rm -f "$secret_file"' EXIT
chmod 600 "$secret_file"
python3 -c 'import secrets; print(secrets.token_urlsafe(50), end="")' >"$secret_file"
az keyvault secret set --vault-name "$KEY_VAULT" --name "$SECRET_NAME" \
  --file "$secret_file" --encoding utf-8 --output none
rm -f "$secret_file"

# SECRET_KEY stays a reference to the latest version; the fallback names the one before.
az webapp config appsettings set --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --settings "SECRET_KEY_FALLBACKS=@Microsoft.KeyVault(SecretUri=$previous)" --output none
echo "SECRET_KEY rotated in $KEY_VAULT; the previous version is SECRET_KEY_FALLBACKS."
echo "The app restarts with both. In two weeks: $0 --drop-fallback"
