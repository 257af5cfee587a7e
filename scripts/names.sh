# Sourced by deploy.sh and the scripts that work on what it made (scripts/teardown.sh,
# scripts/rotate-secret-key.sh): the name of each resource, from APP_NAME and the same
# overrides, so every script finds what deploy.sh created.
: "${APP_NAME:?set APP_NAME to the web app name (globally unique, e.g. my-reviews)}"
LOCATION="${LOCATION:-eastus}"
RESOURCE_GROUP="${RESOURCE_GROUP:-${APP_NAME}-rg}"
DB_SERVER="${DB_SERVER:-${APP_NAME}-db}"
DB_NAME="${DB_NAME:-restaurant}"
IDENTITY_NAME="${IDENTITY_NAME:-${APP_NAME}-identity}"
PLAN_NAME="${PLAN_NAME:-${APP_NAME}-plan}"
AUTOSCALE_NAME="${PLAN_NAME}-autoscale"
STORAGE_CONTAINER="${STORAGE_CONTAINER:-photos}"
# Storage account names: 3-24 lowercase letters and digits.
default_account="$(printf '%s' "${APP_NAME}photos" | tr -cd 'a-z0-9' | cut -c1-24)"
STORAGE_ACCOUNT="${STORAGE_ACCOUNT:-$default_account}"
KEY_VAULT="${KEY_VAULT:-$(printf '%s' "${APP_NAME}-kv" | tr -cd 'a-zA-Z0-9-' | cut -c1-24)}"
# SECRET_KEY's secret in the vault; its earlier versions are the fallbacks after a rotation.
SECRET_NAME="django-secret-key"
WORKSPACE_NAME="${WORKSPACE_NAME:-${APP_NAME}-logs}"
APPINSIGHTS_NAME="${APPINSIGHTS_NAME:-${APP_NAME}-insights}"
REDIS_NAME="${REDIS_NAME:-${APP_NAME}-cache}"
PIPELINE_IDENTITY_NAME="${PIPELINE_IDENTITY_NAME:-${APP_NAME}-deploy}"
APP_REG_NAME="${APP_REG_NAME:-${APP_NAME}-staff-sign-in}"
ACTION_GROUP="${ACTION_GROUP:-${APP_NAME}-alerts}"
