// Event wiring that needs the deployed function: Event Grid subscriptions to the Event Grid
// trigger (keyless `AzureFunction` endpoint, validated by Event Grid only once the function is
// indexed) and Activity Log alerts whose action group posts the Common Alert Schema to
// /api/alerts with the host key. main.bicep deploys this only when `eventWiring` is true; the
// azd postdeploy hook (scripts/postdeploy.sh) turns it on after the first code deployment.

param functionAppName string
param healthTopicName string
param resourcesTopicName string
param tags object = {}

@description('Subscription and resource group IDs served: events outside them are not delivered.')
param scopes array

@description('Resource ID of the identity the system topics dead-letter with.')
param eventGridIdentityId string

param storageAccountName string
param deadLetterContainerName string

param actionGroupName string
param alertNamePrefix string

@description('Name of the Event Grid trigger function (function_app.py).')
param eventGridFunctionName string = 'eventgrid_trigger'

@description('Delivery attempts before an event is dead-lettered (1-30).')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 10

@description('Minutes an event is retried before it is dead-lettered (1-1440). Older signals are stale for incident response; the sweep reconciles.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 360

@allowed([
  'EventGridSchema'
  'CloudEventSchemaV1_0'
])
param eventDeliverySchema string = 'EventGridSchema'

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource functionHost 'Microsoft.Web/sites/host@2024-04-01' existing = {
  parent: site
  name: 'default'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource healthTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: healthTopicName
}

resource resourcesTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: resourcesTopicName
}

// Advanced filters allow 25 values per event subscription; beyond 20 scopes the subject filter
// is dropped and the responder's own scope check (identity.in_scopes) does the filtering.
var scopePrefixes = [for scope in scopes: '${scope}/']
var scopeFilters = (length(scopePrefixes) <= 20) ? [
  {
    operatorType: 'StringBeginsWith'
    key: 'subject'
    values: scopePrefixes
  }
] : []

var destination = {
  endpointType: 'AzureFunction'
  properties: {
    resourceId: '${site.id}/functions/${eventGridFunctionName}'
    // One event per delivery: a failed batch is redelivered whole (azure-semantics §3).
    maxEventsPerBatch: 1
    preferredBatchSizeInKilobytes: 64
  }
}

var retryPolicy = {
  maxDeliveryAttempts: maxDeliveryAttempts
  eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
}

var deadLetter = {
  identity: {
    type: 'UserAssigned'
    userAssignedIdentity: eventGridIdentityId
  }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: storage.id
      blobContainerName: deadLetterContainerName
    }
  }
}

// Scale sets, their Uniform instances, and plain VMs (Flexible orchestration instances are
// Microsoft.Compute/virtualMachines; the responder drops VMs that belong to no served scale set).
var healthTargetTypes = [
  'Microsoft.Compute/virtualMachineScaleSets'
  'Microsoft.Compute/virtualMachineScaleSets/virtualMachines'
  'Microsoft.Compute/virtualMachines'
]

resource healthSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: healthTopic
  name: 'vmss-responder-health'
  properties: {
    destination: destination
    eventDeliverySchema: eventDeliverySchema
    filter: {
      includedEventTypes: [
        'Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged'
        'Microsoft.ResourceNotifications.HealthResources.ResourceAnnotated'
      ]
      advancedFilters: concat([
        {
          operatorType: 'StringIn'
          key: 'data.resourceInfo.properties.targetResourceType'
          values: healthTargetTypes
        }
      ], scopeFilters)
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
    labels: [
      'vmss-responder'
    ]
  }
}

resource operationsSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: resourcesTopic
  name: 'vmss-responder-operations'
  properties: {
    destination: destination
    eventDeliverySchema: eventDeliverySchema
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
        'Microsoft.Resources.ResourceWriteFailure'
        'Microsoft.Resources.ResourceWriteCancel'
        'Microsoft.Resources.ResourceActionSuccess'
        'Microsoft.Resources.ResourceActionFailure'
        'Microsoft.Resources.ResourceActionCancel'
        'Microsoft.Resources.ResourceDeleteSuccess'
        'Microsoft.Resources.ResourceDeleteFailure'
        'Microsoft.Resources.ResourceDeleteCancel'
      ]
      advancedFilters: concat([
        {
          // Writes, actions (setOrchestrationServiceState, restart, reimage, ...) and deletes on
          // scale sets and their instances; the events carry no resource body.
          operatorType: 'StringBeginsWith'
          key: 'data.operationName'
          values: [
            'Microsoft.Compute/virtualMachineScaleSets/'
          ]
        }
      ], scopeFilters)
    }
    retryPolicy: retryPolicy
    deadLetterWithResourceIdentity: deadLetter
    labels: [
      'vmss-responder'
    ]
  }
}

// The action group posts the Common Alert Schema to the alerts route. Action groups cannot send
// headers, so the host key travels in the query string (azure-semantics §4).
resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'vmssresp'
    enabled: true
    webhookReceivers: [
      {
        name: 'vmss-responder-alerts'
        serviceUri: 'https://${site.properties.defaultHostName}/api/alerts?code=${functionHost.listKeys().functionKeys.default}'
        useCommonAlertSchema: true
      }
    ]
  }
}

var alertActions = {
  actionGroups: [
    {
      actionGroupId: actionGroup.id
    }
  ]
}

// Administrative operations on scale sets and their instances, including
// setOrchestrationServiceState: the only notice that the platform suspended automatic repairs.
resource administrativeAlert 'Microsoft.Insights/activityLogAlerts@2020-10-01' = {
  name: '${alertNamePrefix}vmss-administrative'
  location: 'Global'
  tags: tags
  properties: {
    description: 'VMSS responder: administrative operations on scale sets (writes, instance actions, repair suspension and resume).'
    enabled: true
    scopes: [
      subscription().id
    ]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'Administrative'
        }
        {
          anyOf: [
            {
              field: 'resourceType'
              equals: 'Microsoft.Compute/virtualMachineScaleSets'
            }
            {
              field: 'resourceType'
              equals: 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines'
            }
            {
              field: 'operationName'
              equals: 'Microsoft.Compute/virtualMachineScaleSets/setOrchestrationServiceState/action'
            }
          ]
        }
      ]
    }
    actions: alertActions
  }
}

resource resourceHealthAlert 'Microsoft.Insights/activityLogAlerts@2020-10-01' = {
  name: '${alertNamePrefix}vmss-resource-health'
  location: 'Global'
  tags: tags
  properties: {
    description: 'VMSS responder: Resource Health of scale sets and their instances.'
    enabled: true
    scopes: [
      subscription().id
    ]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'ResourceHealth'
        }
        {
          anyOf: [
            {
              field: 'resourceType'
              equals: 'Microsoft.Compute/virtualMachineScaleSets'
            }
            {
              field: 'resourceType'
              equals: 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines'
            }
            {
              field: 'resourceType'
              equals: 'Microsoft.Compute/virtualMachines'
            }
          ]
        }
      ]
    }
    actions: alertActions
  }
}

resource autoscaleAlert 'Microsoft.Insights/activityLogAlerts@2020-10-01' = {
  name: '${alertNamePrefix}vmss-autoscale'
  location: 'Global'
  tags: tags
  properties: {
    description: 'VMSS responder: autoscale actions (the target scale set is in the alert context).'
    enabled: true
    scopes: [
      subscription().id
    ]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'Autoscale'
        }
      ]
    }
    actions: alertActions
  }
}

output healthSubscriptionName string = healthSubscription.name
output operationsSubscriptionName string = operationsSubscription.name
output actionGroupId string = actionGroup.id
