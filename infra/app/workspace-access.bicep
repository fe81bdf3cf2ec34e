// Read access to the Log Analytics workspace that receives the Activity Log (the responder
// queries it for operations it did not see as events). Deployed into the workspace's own
// resource group, which may be outside the responder's, so an existing workspace can be used.

param workspaceName string
param principalId string

var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader))
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('The workspace (customer) ID that LogsQueryClient.query_workspace takes.')
output customerId string = workspace.properties.customerId
