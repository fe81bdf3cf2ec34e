// vmss-responder: one `azd up` deploys the responder, its least-privilege identity and (after
// the first code deployment, via the postdeploy hook) its event wiring. See docs/deployment.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of the resource group and the Flex Consumption app (a region that offers Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object ID of the deploying user or service principal (azd sets AZURE_PRINCIPAL_ID); gets read access to the state tables. Empty to skip.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('observe: diagnose and notify only; act: also run the allowed actions.')
@allowed([
  'observe'
  'act'
])
param mode string = 'observe'

@description('Actions the responder may take in act mode.')
@allowed([
  'resume_repairs'
  'restart_instance'
  'reimage_instance'
  'replace_instance'
  'run_command'
])
param allowedActions array = [
  'resume_repairs'
]

@description('Subscription (/subscriptions/<id>) and resource group (/subscriptions/<id>/resourceGroups/<name>) IDs to serve. Empty: this subscription.')
param scopes array = []

@secure()
@description('Teams Workflows webhook URL ("When a Teams webhook request is received"). Empty: channel off.')
param teamsWebhookUrl string = ''

@secure()
@description('Generic webhook URL (signed JSON, docs/webhook-schema.v1.json). Empty: channel off.')
param webhookUrl string = ''

@secure()
@description('HMAC secret the generic webhook payloads are signed with.')
param webhookSecret string = ''

@secure()
@description('PagerDuty Events API v2 routing key. Empty: channel off.')
param pagerdutyRoutingKey string = ''

@description('Resource ID of an existing Log Analytics workspace that already receives this subscription\'s Activity Log. Empty: use the workspace created here and export the Activity Log to it.')
param activityLogWorkspaceId string = ''

@description('Other responder settings by camelCase name (e.g. {"settlePeriod": "PT20M"}); see docs/deployment.md.')
param settingOverrides object = {}

@description('Create the Event Grid subscriptions and Activity Log alerts. Needs the deployed function, so the postdeploy hook sets it after the first `azd deploy`.')
param eventWiring bool = false

@description('NCRONTAB schedule of the sweep timer (six fields).')
param timerSchedule string = '0 */1 * * * *'

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}

var resourceGroupName = '${abbrs.resourcesResourceGroups}${environmentName}'
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var logAnalyticsName = '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var deadLetterContainerName = 'eventgrid-deadletter'

// Tables the store uses (vmss_responder/records.py); it also creates missing ones on first use.
var stateTables = [
  'inbox'
  'seen'
  'state'
  'incidents'
  'actions'
  'leases'
  'rejected'
]

// Scopes without a trailing '/', defaulting to this subscription. The role is assignable at,
// and assigned at, exactly these.
var normalizedScopes = [for scope in scopes: endsWith(scope, '/') ? substring(scope, 0, length(scope) - 1) : scope]
var servedScopes = empty(normalizedScopes) ? [
  subscription().id
] : normalizedScopes

// The workspace the Activity Log is queried in: the given one, or the one created here.
var createdWorkspaceId = '${subscription().id}/resourceGroups/${resourceGroupName}/providers/Microsoft.OperationalInsights/workspaces/${logAnalyticsName}'
var activityWorkspaceParts = split(empty(activityLogWorkspaceId) ? createdWorkspaceId : activityLogWorkspaceId, '/')
var activityLogExportName = 'vmss-responder-${resourceToken}'

var secretNames = {
  teamsWebhookUrl: 'teams-webhook-url'
  webhookUrl: 'webhook-url'
  webhookSecret: 'webhook-secret'
  pagerdutyRoutingKey: 'pagerduty-routing-key'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

// --- identities --------------------------------------------------------------------------

module appIdentity 'core/security/user-assigned-identity.bicep' = {
  name: 'app-identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module eventGridIdentity 'core/security/user-assigned-identity.bicep' = {
  name: 'eventgrid-identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}evgt-${resourceToken}'
    location: location
    tags: tags
  }
}

// --- platform ----------------------------------------------------------------------------

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    tableNames: stateTables
  }
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: logAnalyticsName
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'core/security/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    secrets: {
      '${secretNames.teamsWebhookUrl}': teamsWebhookUrl
      '${secretNames.webhookUrl}': webhookUrl
      '${secretNames.webhookSecret}': webhookSecret
      '${secretNames.pagerdutyRoutingKey}': pagerdutyRoutingKey
    }
  }
}

// --- least privilege ---------------------------------------------------------------------

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    appPrincipalId: appIdentity.outputs.principalId
    eventGridPrincipalId: eventGridIdentity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module responderRole 'app/responder-role.bicep' = {
  name: 'responder-role'
  params: {
    roleName: 'VMSS Responder (${environmentName}-${resourceToken})'
    assignableScopes: servedScopes
  }
}

module scopeAccessSubscription 'app/scope-access-subscription.bicep' = [for (scope, i) in servedScopes: if (length(split(scope, '/')) == 3) {
  name: 'responder-access-sub-${resourceToken}-${i}'
  scope: subscription(split(scope, '/')[2])
  params: {
    principalId: appIdentity.outputs.principalId
    roleDefinitionName: responderRole.outputs.roleDefinitionName
  }
}]

module scopeAccessResourceGroup 'app/scope-access-resource-group.bicep' = [for (scope, i) in servedScopes: if (length(split(scope, '/')) == 5) {
  name: 'responder-access-rg-${resourceToken}-${i}'
  scope: resourceGroup(split(scope, '/')[2], last(split(scope, '/')))
  params: {
    principalId: appIdentity.outputs.principalId
    roleDefinitionName: responderRole.outputs.roleDefinitionName
  }
}]

module workspaceAccess 'app/workspace-access.bicep' = {
  name: 'responder-workspace-${resourceToken}'
  scope: resourceGroup(activityWorkspaceParts[2], activityWorkspaceParts[4])
  params: {
    workspaceName: last(activityWorkspaceParts)
    principalId: appIdentity.outputs.principalId
  }
  dependsOn: [
    monitoring
  ]
}

module activityLogExport 'app/activity-log-export.bicep' = if (empty(activityLogWorkspaceId)) {
  name: 'activity-log-export-${resourceToken}'
  params: {
    name: activityLogExportName
    workspaceId: monitoring.outputs.logAnalyticsId
  }
}

// --- the app -----------------------------------------------------------------------------

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: appIdentity.outputs.id
    identityClientId: appIdentity.outputs.clientId
    identityPrincipalId: appIdentity.outputs.principalId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    secretUris: {
      teamsWebhookUrl: empty(teamsWebhookUrl) ? '' : '${keyVault.outputs.uri}secrets/${secretNames.teamsWebhookUrl}'
      webhookUrl: empty(webhookUrl) ? '' : '${keyVault.outputs.uri}secrets/${secretNames.webhookUrl}'
      webhookSecret: empty(webhookSecret) ? '' : '${keyVault.outputs.uri}secrets/${secretNames.webhookSecret}'
      pagerdutyRoutingKey: empty(pagerdutyRoutingKey) ? '' : '${keyVault.outputs.uri}secrets/${secretNames.pagerdutyRoutingKey}'
    }
    mode: mode
    allowedActions: allowedActions
    scopes: servedScopes
    workspaceId: workspaceAccess.outputs.customerId
    settingOverrides: settingOverrides
    timerSchedule: timerSchedule
  }
  // The app starts resolving Key Vault references and reaching storage at once: grant first.
  dependsOn: [
    rbac
  ]
}

// --- event wiring ------------------------------------------------------------------------

module events 'app/events.bicep' = {
  name: 'events'
  scope: rg
  params: {
    healthTopicName: '${abbrs.eventGridSystemTopics}health-${resourceToken}'
    resourcesTopicName: '${abbrs.eventGridSystemTopics}arm-${resourceToken}'
    tags: tags
    eventGridIdentityId: eventGridIdentity.outputs.id
  }
}

module wiring 'app/wiring.bicep' = if (eventWiring) {
  name: 'wiring'
  scope: rg
  params: {
    functionAppName: api.outputs.name
    healthTopicName: events.outputs.healthTopicName
    resourcesTopicName: events.outputs.resourcesTopicName
    tags: tags
    scopes: servedScopes
    eventGridIdentityId: eventGridIdentity.outputs.id
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    actionGroupName: '${abbrs.alertsActionGroups}${resourceToken}'
    alertNamePrefix: '${abbrs.alertsActivityLogAlerts}${resourceToken}-'
  }
  // Dead-lettering needs the Event Grid identity's role on the container.
  dependsOn: [
    rbac
  ]
}

// --- outputs (azd writes them to the environment; the hooks read them) --------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output RESOURCE_GROUP string = rg.name
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostName}'
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output RESPONDER_IDENTITY_CLIENT_ID string = appIdentity.outputs.clientId
output RESPONDER_IDENTITY_PRINCIPAL_ID string = appIdentity.outputs.principalId
output RESPONDER_ROLE_NAME string = responderRole.outputs.roleName
output RESPONDER_ROLE_DEFINITION_NAME string = responderRole.outputs.roleDefinitionName
output RESPONDER_SCOPES array = servedScopes
output ACTIVITY_LOG_DIAGNOSTIC_SETTING string = empty(activityLogWorkspaceId) ? activityLogExportName : ''
output EVENT_GRID_HEALTH_TOPIC string = events.outputs.healthTopicName
output EVENT_GRID_RESOURCES_TOPIC string = events.outputs.resourcesTopicName
