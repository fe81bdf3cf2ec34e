// The two Event Grid system topics the responder listens to, for this subscription:
// - HealthResources (preview): availability changes and annotations of VMs, scale sets and
//   their instances;
// - the Azure subscription topic: ARM writes, actions and deletes (who resumed, reimaged,
//   scaled what).
// Both are global. They carry the identity Event Grid dead-letters with. Event subscriptions
// are created by wiring.bicep once the function exists (see docs/deployment.md).
// Only one system topic per source may exist: if the subscription already has one of these,
// deployment fails (docs/deployment.md, "Existing system topics").

param healthTopicName string
param resourcesTopicName string
param tags object = {}

@description('Resource ID of the user-assigned identity Event Grid dead-letters with.')
param eventGridIdentityId string

resource healthTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: healthTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.ResourceNotifications.HealthResources'
  }
}

resource resourcesTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: resourcesTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

output healthTopicName string = healthTopic.name
output resourcesTopicName string = resourcesTopic.name
