// Sends this subscription's Activity Log to the responder's workspace, so the categories the
// responder correlates against (Administrative, ResourceHealth, Autoscale, ServiceHealth) are
// queryable. Used only when no existing workspace is given (that one is assumed to receive it).
targetScope = 'subscription'

param name string
param workspaceId string

resource export 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'Administrative'
        enabled: true
      }
      {
        category: 'ResourceHealth'
        enabled: true
      }
      {
        category: 'Autoscale'
        enabled: true
      }
      {
        category: 'ServiceHealth'
        enabled: true
      }
    ]
  }
}

output name string = export.name
