// Assigns the responder role at a resource group scope (one deployment per served resource group).
targetScope = 'resourceGroup'

param principalId string

@description('Name (GUID) of the custom role definition; resolved in this subscription, where the assignment lives.')
param roleDefinitionName string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'VMSS responder: act on the scale sets in this resource group.'
  }
}
