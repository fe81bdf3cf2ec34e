// The custom role the responder acts with: exactly the ARM operations its code calls
// (vmss_responder.permissions.role_actions(); tests/infra/test_role.py checks both directions).
// Reads scale sets, their VMs and instance views; resumes automatic repairs; restarts, reimages
// and deletes instances and restores capacity; runs the diagnostic Run Command; polls the
// resulting long-running operations. No data actions, no wildcard.
targetScope = 'subscription'

@description('Unique name of the role in the tenant.')
param roleName string

@description('Subscription and resource group IDs the role may be assigned at (the scopes served).')
param assignableScopes array

resource responderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleName)
  properties: {
    roleName: roleName
    description: 'VMSS incident responder: read scale sets and instances, resume automatic repairs, restart/reimage/replace instances, run diagnostics.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Compute/locations/operations/read'
          'Microsoft.Compute/virtualMachineScaleSets/delete/action'
          'Microsoft.Compute/virtualMachineScaleSets/instanceView/read'
          'Microsoft.Compute/virtualMachineScaleSets/read'
          'Microsoft.Compute/virtualMachineScaleSets/setOrchestrationServiceState/action'
          'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/instanceView/read'
          'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read'
          'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/reimage/action'
          'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/restart/action'
          'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action'
          'Microsoft.Compute/virtualMachineScaleSets/write'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: assignableScopes
  }
}

output id string = responderRole.id
output roleDefinitionName string = responderRole.name
output roleName string = roleName
