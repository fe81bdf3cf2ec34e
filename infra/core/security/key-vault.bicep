// Key Vault for the notification channel secrets. RBAC mode (no access policies), purge
// protection on. A secret is written only when a value is given, so a secret rotated directly in
// the vault is not overwritten by a later `azd provision` that does not carry it.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Secret name -> value. Empty values are skipped (the channel stays off).')
@secure()
param secrets object

@description('Days a deleted vault stays recoverable (7-90). The name stays reserved that long.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 7

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: App Service resolves Key Vault references over the public endpoint when the app has no VNet integration; access is RBAC-only, the app's identity holds Key Vault Secrets User and nothing else.
  // checkov:skip=CKV_AZURE_189: Same reason as CKV_AZURE_109: the public endpoint is required without VNet integration.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for item in items(secrets): if (!empty(item.value)) {
  // checkov:skip=CKV_AZURE_41: Webhook URLs and routing keys do not expire on a schedule; an expiry date would silently disable notifications. Rotate by setting a new version (the app references the versionless URI).
  parent: vault
  name: item.key
  properties: {
    value: item.value
    contentType: 'text/plain'
  }
}]

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
