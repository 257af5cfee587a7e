#!/usr/bin/env bash
# Deploy the code alone to a web app that deploy.sh made: a git ref (a commit, tag or branch;
# default HEAD), built by App Service (pip install -r requirements.txt). deploy.sh runs it last;
# the deploy workflow runs it signed in as the pipeline's own identity, which may publish to
# this one web app and do nothing else. Rolling back is deploying an earlier ref
# (docs/operate.md: migrations must stay backward compatible for one release).
#
#   APP_NAME=my-reviews RESOURCE_GROUP=my-reviews-rg scripts/deploy-code.sh [REF]
set -euo pipefail
cd "$(dirname "$0")/.."

: "${APP_NAME:?set APP_NAME to the web app name}"
RESOURCE_GROUP="${RESOURCE_GROUP:-${APP_NAME}-rg}"
ref="${1:-HEAD}"
if ! commit="$(git rev-parse --verify --quiet "$ref^{commit}")"; then
  echo "Not a commit in this repository: $ref" >&2
  exit 2
fi

package_dir="$(mktemp -d)"
trap 'rm -rf "$package_dir"' EXIT
git archive --format=zip --output "$package_dir/restaurant-review.zip" "$commit"
echo "Deploying $ref ($(git log -1 --format='%h %s' "$commit")) to $APP_NAME"
# A zip deploy through the SCM site's Microsoft Entra sign-in (basic publishing credentials are
# off); the app setting SCM_DO_BUILD_DURING_DEPLOYMENT makes App Service install the requirements.
az webapp deploy --name "$APP_NAME" --resource-group "$RESOURCE_GROUP" \
  --src-path "$package_dir/restaurant-review.zip" --type zip --output none
