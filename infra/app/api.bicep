// The responder's Function App on Flex Consumption (FC1, Linux, Python 3.11), running as a
// user-assigned identity: host storage, the deployment package, the state tables, App Insights
// and Key Vault references all authenticate with it (no keys, no connection strings).
//
// App settings: every VMSS_RESPONDER_* name is one of vmss_responder.config.setting_names()
// (tests/infra/test_bicep.py checks both directions). Settings without a dedicated parameter take
// their value from `settingOverrides` (camelCase names, as in scenario config blocks); an empty
// value means "use the code's default" (settings_from_env ignores empty variables).

param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('azd service name (azure.yaml), tagged on the site so `azd deploy` finds it.')
param serviceName string = 'api'

param identityId string
param identityClientId string
param identityPrincipalId string

param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string

param applicationInsightsConnectionString string

@description('Versionless Key Vault secret URIs by setting name (teamsWebhookUrl, webhookUrl, webhookSecret, pagerdutyRoutingKey); empty when the channel is not configured.')
param secretUris object

@allowed([
  'observe'
  'act'
])
param mode string

param allowedActions array
param scopes array

@description('Log Analytics workspace (customer) ID the Activity Log is queried in.')
param workspaceId string

@description('Other settings by camelCase name; see docs/deployment.md.')
param settingOverrides object = {}

@description('NCRONTAB schedule of the sweep timer.')
param timerSchedule string = '0 */1 * * * *'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Spread instances across availability zones (only in regions where Flex Consumption offers it).')
param zoneRedundant bool = false

var hostSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  TIMER_SCHEDULE: timerSchedule
  // The table endpoint without its trailing '/', plus the identity to use (see store/tables.py).
  VMSS_RESPONDER_STORE_URL: 'tables+mi:${take(storageTableEndpoint, length(storageTableEndpoint) - 1)}?clientId=${identityClientId}'
}

var responderSettings = {
  VMSS_RESPONDER_MODE: mode
  VMSS_RESPONDER_ALLOWED_ACTIONS: join(allowedActions, ',')
  VMSS_RESPONDER_SCOPES: join(scopes, ',')
  VMSS_RESPONDER_WORKSPACE_ID: workspaceId
  VMSS_RESPONDER_OWN_PRINCIPALS: '${identityPrincipalId},${identityClientId}'
  VMSS_RESPONDER_TEAMS_WEBHOOK_URL: empty(secretUris.teamsWebhookUrl) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUris.teamsWebhookUrl})'
  VMSS_RESPONDER_WEBHOOK_URL: empty(secretUris.webhookUrl) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUris.webhookUrl})'
  VMSS_RESPONDER_WEBHOOK_SECRET: empty(secretUris.webhookSecret) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUris.webhookSecret})'
  VMSS_RESPONDER_PAGERDUTY_ROUTING_KEY: empty(secretUris.pagerdutyRoutingKey) ? '' : '@Microsoft.KeyVault(SecretUri=${secretUris.pagerdutyRoutingKey})'
  VMSS_RESPONDER_RUN_COMMAND_SCRIPT: string(settingOverrides.?runCommandScript ?? '')
  VMSS_RESPONDER_SETTLE_PERIOD: string(settingOverrides.?settlePeriod ?? '')
  VMSS_RESPONDER_HOLD_PERIOD: string(settingOverrides.?holdPeriod ?? '')
  VMSS_RESPONDER_OPERATION_MAX_DURATION: string(settingOverrides.?operationMaxDuration ?? '')
  VMSS_RESPONDER_ACTIVITY_LOG_LOOKBACK: string(settingOverrides.?activityLogLookback ?? '')
  VMSS_RESPONDER_FLAP_WINDOW: string(settingOverrides.?flapWindow ?? '')
  VMSS_RESPONDER_FLAP_REVERSALS: string(settingOverrides.?flapReversals ?? '')
  VMSS_RESPONDER_PROBE_MISCONFIGURED_FRACTION: string(settingOverrides.?probeMisconfiguredFraction ?? '')
  VMSS_RESPONDER_ZONE_CONCENTRATION_MIN: string(settingOverrides.?zoneConcentrationMin ?? '')
  VMSS_RESPONDER_RESUME_BUDGET: string(settingOverrides.?resumeBudget ?? '')
  VMSS_RESPONDER_RESUME_BUDGET_WINDOW: string(settingOverrides.?resumeBudgetWindow ?? '')
  VMSS_RESPONDER_RESUME_BACKOFF: string(settingOverrides.?resumeBackoff ?? '')
  VMSS_RESPONDER_INSTANCE_ACTION_BUDGET: string(settingOverrides.?instanceActionBudget ?? '')
  VMSS_RESPONDER_INSTANCE_ACTION_WINDOW: string(settingOverrides.?instanceActionWindow ?? '')
  VMSS_RESPONDER_REPAIR_WAIT_MARGIN: string(settingOverrides.?repairWaitMargin ?? '')
  VMSS_RESPONDER_SWEEP_INTERVAL: string(settingOverrides.?sweepInterval ?? '')
  VMSS_RESPONDER_RECHECK_INTERVAL: string(settingOverrides.?recheckInterval ?? '')
  VMSS_RESPONDER_VERIFY_INTERVAL: string(settingOverrides.?verifyInterval ?? '')
  VMSS_RESPONDER_VERIFY_TIMEOUT: string(settingOverrides.?verifyTimeout ?? '')
  VMSS_RESPONDER_MAX_RETRY_AFTER: string(settingOverrides.?maxRetryAfter ?? '')
  VMSS_RESPONDER_DEDUP_RETENTION: string(settingOverrides.?dedupRetention ?? '')
  VMSS_RESPONDER_LEASE_DURATION: string(settingOverrides.?leaseDuration ?? '')
  VMSS_RESPONDER_PAGERDUTY_URL: string(settingOverrides.?pagerdutyUrl ?? '')
  VMSS_RESPONDER_DIGEST_THRESHOLD: string(settingOverrides.?digestThreshold ?? '')
  VMSS_RESPONDER_DIGEST_WINDOW: string(settingOverrides.?digestWindow ?? '')
  VMSS_RESPONDER_NOTIFY_MAX_ATTEMPTS: string(settingOverrides.?notifyMaxAttempts ?? '')
  VMSS_RESPONDER_NOTIFY_BACKOFF_MAX: string(settingOverrides.?notifyBackoffMax ?? '')
  VMSS_RESPONDER_NOTIFY_HISTORY_RETENTION: string(settingOverrides.?notifyHistoryRetention ?? '')
}

var appSettings = union(hostSettings, responderSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions (deployment fails elsewhere), so it is the zoneRedundant parameter, off by default.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Event Grid, action groups and autoscale cannot present client certificates.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales out per demand within functionAppConfig.scaleAndConcurrency; siteConfig.numberOfWorkers does not apply.
  // checkov:skip=CKV_AZURE_222: Event Grid, action group and autoscale webhooks come from Azure-managed senders on the public endpoint; a private app needs VNet integration, which this template does not deploy.
  // checkov:skip=CKV_AZURE_213: App Service health check is not supported on Flex Consumption; GET /api/health serves external probes.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
