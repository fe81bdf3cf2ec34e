#!/bin/sh
# azd predown hook: remove what `azd down` does not, because it lives outside the resource group:
#   - the responder role's assignments at each served scope (and Log Analytics Reader on an
#     existing workspace given with ACTIVITY_LOG_WORKSPACE_ID),
#   - the custom role definition (deletable only once no assignment uses it),
#   - the subscription diagnostic setting exporting the Activity Log to the created workspace;
# and reset EVENT_WIRING so that the next `azd up` provisions before wiring events again.
# Everything else (app, storage, Key Vault, system topics, event subscriptions, alerts) is in
# the resource group that `azd down` deletes. Needs: az, azd. Safe to re-run.
set -eu

: "${AZURE_ENV_NAME:?azd sets AZURE_ENV_NAME for hooks}"
: "${AZURE_SUBSCRIPTION_ID:?azd sets AZURE_SUBSCRIPTION_ID for hooks}"

warn() { echo "warning: $*" >&2; }

principal="${RESPONDER_IDENTITY_PRINCIPAL_ID:-}"
role="${RESPONDER_ROLE_NAME:-}"

if [ -n "$principal" ] && [ -n "$role" ]; then
    # RESPONDER_SCOPES is a JSON array of resource IDs, which contain no quotes, commas or brackets.
    for scope in $(printf '%s' "${RESPONDER_SCOPES:-[]}" | tr -d '[]" ' | tr ',' ' '); do
        echo "Removing '$role' from the responder identity at $scope"
        az role assignment delete --assignee "$principal" --role "$role" --scope "$scope" || warn "could not delete it (already gone?)"
    done
    if [ -n "${ACTIVITY_LOG_WORKSPACE_ID:-}" ]; then
        az role assignment delete --assignee "$principal" --role "Log Analytics Reader" \
            --scope "$ACTIVITY_LOG_WORKSPACE_ID" || warn "could not delete it (already gone?)"
    fi
fi

if [ -n "$role" ]; then
    echo "Deleting the custom role '$role'"
    az role definition delete --name "$role" --custom-role-only true \
        --scope "/subscriptions/$AZURE_SUBSCRIPTION_ID" || warn "could not delete it (already gone?)"
fi

if [ -n "${ACTIVITY_LOG_DIAGNOSTIC_SETTING:-}" ]; then
    echo "Deleting the Activity Log export '$ACTIVITY_LOG_DIAGNOSTIC_SETTING'"
    az monitor diagnostic-settings subscription delete --name "$ACTIVITY_LOG_DIAGNOSTIC_SETTING" \
        --subscription "$AZURE_SUBSCRIPTION_ID" --yes || warn "could not delete it (already gone?)"
fi

azd env set EVENT_WIRING false --environment "$AZURE_ENV_NAME"
