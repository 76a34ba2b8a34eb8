// Example instances of contract outcomes (the in-force family contract is in examples-residents.fsh).

Instance: example-terminated-contract
InstanceOf: JiayiContract
Title: "陈思琪个人签约协议（2025年签约，因迁出解约）"
Description: "A one-year individual contract ended early because the resident moved out of the service area: status terminated, the reason from contract-termination-reason in its extension, the end date in applies.end (docs/DATA-MODEL.md; jy-contract-terminated)."
Usage: #example
* status = #terminated
* issued = "2025-03-01T09:00:00+08:00"
* applies.start = "2025-03-01"
* applies.end = "2025-09-30"
* subject = Reference(example-chen-siqi)
* authority = Reference(example-community-centre)
* extension[careTeam].valueReference = Reference(example-team-huang)
* extension[statusReason].valueCodeableConcept = $status-reason#terminated "已解约"
* extension[terminationReason].valueCodeableConcept = $term-reason#moved-out "迁出服务区域"
* extension[package][0].valueCanonical = "https://jiayi.health/fhir/PlanDefinition/basic-public-health"
* extension[signingChannel].valueCoding = $channel#online "线上签约"
* signer[0].type = http://terminology.hl7.org/CodeSystem/contractsignertypecodes#GUARD "Guardian"
* signer[0].party = Reference(example-chen-wei)
* signer[0].signature.type = urn:iso-astm:E1762-95:2013#1.2.840.10065.1.12.1.7 "Consent Signature"
* signer[0].signature.when = "2025-03-01T09:00:00+08:00"
* signer[0].signature.who = Reference(example-chen-wei)
* signer[1].type = http://terminology.hl7.org/CodeSystem/contractsignertypecodes#HPROV "Healthcare Provider"
* signer[1].party = Reference(example-role-huang)
* signer[1].signature.type = urn:iso-astm:E1762-95:2013#1.2.840.10065.1.12.1.1 "Author's Signature"
* signer[1].signature.when = "2025-03-01T09:05:00+08:00"
* signer[1].signature.who = Reference(example-role-huang)
