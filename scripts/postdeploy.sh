#!/bin/sh
# azd postdeploy hook: wire the events once the code is deployed.
#
# The Event Grid subscriptions point at the Event Grid trigger with the keyless AzureFunction
# endpoint, which Event Grid validates only once the function is indexed; the action group
# webhook carries the host key, which exists only once the host runs. So `azd up` provisions
# with EVENT_WIRING=false, deploys the code, and this hook then
#   1. waits until the Event Grid trigger is indexed,
#   2. sets EVENT_WIRING=true and runs `azd provision` again, which deploys infra/app/wiring.bicep
#      (Event Grid subscriptions, action group, Activity Log alerts); later `azd provision` and
#      `azd up` runs keep it in sync (scripts/predown.sh resets the flag on `azd down`),
#   3. checks that the Key Vault references in the app settings resolved, restarting the app
#      once if they did not (the identity's Key Vault role can take minutes to apply).
# Needs: az (logged in to the same tenant) and azd. Runs under `sh` (Git Bash or WSL on Windows).
set -eu

: "${AZURE_ENV_NAME:?azd sets AZURE_ENV_NAME for hooks}"
: "${AZURE_SUBSCRIPTION_ID:?azd sets AZURE_SUBSCRIPTION_ID for hooks}"
: "${RESOURCE_GROUP:?missing; run azd provision first}"
: "${AZURE_FUNCTION_APP_NAME:?missing; run azd provision first}"

app="$AZURE_FUNCTION_APP_NAME"
trigger="${EVENTGRID_FUNCTION_NAME:-eventgrid_trigger}"
wait_seconds="${INDEXING_TIMEOUT_SECONDS:-600}"

echo "Waiting for function '$trigger' in $app to be indexed (up to ${wait_seconds}s)..."
waited=0
until az functionapp function show --subscription "$AZURE_SUBSCRIPTION_ID" \
    --resource-group "$RESOURCE_GROUP" --name "$app" --function-name "$trigger" \
    --query name --output tsv >/dev/null 2>&1; do
    if [ "$waited" -ge "$wait_seconds" ]; then
        echo "'$trigger' is not indexed after ${wait_seconds}s. Check the deployment in the portal" >&2
        echo "(Functions list, Log stream), then re-run: azd hooks run postdeploy" >&2
        exit 1
    fi
    sleep 15
    waited=$((waited + 15))
done

if [ "${EVENT_WIRING:-false}" != "true" ]; then
    echo "Creating the Event Grid subscriptions and Activity Log alerts (azd provision)..."
    azd env set EVENT_WIRING true --environment "$AZURE_ENV_NAME"
    azd provision --no-prompt --environment "$AZURE_ENV_NAME"
else
    echo "Event wiring is already deployed (EVENT_WIRING=true); azd provision keeps it current."
fi

references="/subscriptions/$AZURE_SUBSCRIPTION_ID/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.Web/sites/$app/config/configreferences/appsettings?api-version=2024-04-01"
unresolved() {
    az rest --method get --url "$references" \
        --query "value[?properties.status != 'Resolved'].name" --output tsv
}
pending="$(unresolved)"
if [ -n "$pending" ]; then
    echo "Key Vault references not resolved yet: $pending. Restarting $app once..."
    az functionapp restart --subscription "$AZURE_SUBSCRIPTION_ID" --resource-group "$RESOURCE_GROUP" --name "$app"
    sleep 30
    pending="$(unresolved)"
    if [ -n "$pending" ]; then
        echo "Still unresolved: $pending. The role assignment may still be propagating; restart the app" >&2
        echo "in a few minutes (az functionapp restart -g $RESOURCE_GROUP -n $app)." >&2
    fi
fi

uri="${SERVICE_API_URI:-https://$app.azurewebsites.net}"
echo
echo "vmss-responder is deployed: $uri"
echo "  health:     curl $uri/api/health"
echo "  mode:       ${VMSS_RESPONDER_MODE:-observe} (switch: docs/deployment.md, 'Observe to act')"
echo "  autoscale:  point autoscale webhooks at /api/autoscale (docs/deployment.md, 'Autoscale notifications')"
