// Example instances: the Chen family of 西丽社区, their contract, plan, consents and orders.

RuleSet: XiliAddress
* address.use = #home
* address.text = "广东省广州市番禺区市桥街西丽南路星河湾小区6栋1203房"
* address.line = "市桥街西丽南路星河湾小区6栋1203房"
* address.state = "广东省"
* address.city = "广州市"
* address.district = "番禺区"
* address.extension[divisionCode].valueCode = #440113
* address.extension[communityUnit].extension[committee].valueString = "西丽社区居委会"
* address.extension[communityUnit].extension[unit].valueString = "星河湾小区6栋"

Instance: example-chen-guoqiang
InstanceOf: JiayiResidentPatient
Title: "陈国强（65岁以上，高血压，户主）"
Usage: #example
* identifier[residentId].value = "440126195803120211"
* identifier[healthRecordNumber].value = "4401130100012345"
* name.text = "陈国强"
* name.family = "陈"
* name.given = "国强"
* gender = #male
* birthDate = "1958-03-12"
* telecom.system = #phone
* telecom.value = "13911112222"
* insert XiliAddress
* extension[family].valueReference = Reference(example-chen-family)

Instance: example-li-xiuying
InstanceOf: JiayiResidentPatient
Title: "李秀英（65岁以上）"
Usage: #example
* identifier[residentId].value = "440126196007050421"
* identifier[healthRecordNumber].value = "4401130100012346"
* name.text = "李秀英"
* name.family = "李"
* name.given = "秀英"
* gender = #female
* birthDate = "1960-07-05"
* insert XiliAddress
* extension[family].valueReference = Reference(example-chen-family)

Instance: example-chen-siqi
InstanceOf: JiayiResidentPatient
Title: "陈思琪（0～6岁儿童）"
Usage: #example
* identifier[residentId].value = "440113202109200247"
* name.text = "陈思琪"
* gender = #female
* birthDate = "2021-09-20"
* insert XiliAddress
* extension[family].valueReference = Reference(example-chen-family)

Instance: example-chen-wei
InstanceOf: JiayiRelatedPerson
Title: "陈伟（陈思琪之父，监护人）"
Usage: #example
* identifier[residentId].value = "440126198802140134"
* patient = Reference(example-chen-siqi)
* relationship = http://terminology.hl7.org/CodeSystem/v3-RoleCode#FTH "father"
* name.text = "陈伟"
* telecom.system = #phone
* telecom.value = "13600001111"

Instance: example-chen-family
InstanceOf: JiayiFamily
Title: "陈国强家庭"
Usage: #example
* name = "陈国强家庭（星河湾小区6栋1203）"
* member[0].entity = Reference(example-chen-guoqiang)
* member[0].extension[role].extension[householder].valueBoolean = true
* member[1].entity = Reference(example-li-xiuying)
* member[1].extension[role].extension[relationship].valueCodeableConcept = http://terminology.hl7.org/CodeSystem/v3-RoleCode#WIFE "wife"
* member[2].entity = Reference(example-chen-siqi)
* member[2].extension[role].extension[relationship].valueCodeableConcept = http://terminology.hl7.org/CodeSystem/v3-RoleCode#GRNDDAU "granddaughter"

Instance: example-bp-group
InstanceOf: JiayiSelfManagementGroup
Title: "西丽社区高血压自我管理小组"
Usage: #example
* name = "西丽社区高血压自我健康管理小组"
* code.text = "自我健康管理小组"
* managingEntity = Reference(example-role-huang)
* characteristic.code = $kp#hypertension "高血压患者"
* characteristic.valueBoolean = true
* characteristic.exclude = false
* member.entity = Reference(example-chen-guoqiang)

Instance: example-family-contract
InstanceOf: JiayiContract
Title: "陈国强家庭签约服务协议（2026—2028，3年）"
Usage: #example
* status = #executed
* issued = "2026-01-05T10:20:00+08:00"
* applies.start = "2026-01-05"
* applies.end = "2029-01-04"
* subject[0] = Reference(example-chen-guoqiang)
* subject[1] = Reference(example-li-xiuying)
* subject[2] = Reference(example-chen-siqi)
* authority = Reference(example-community-centre)
* supportingInfo = Reference(example-informed-consent)
* extension[careTeam].valueReference = Reference(example-team-huang)
* extension[family].valueReference = Reference(example-chen-family)
* extension[statusReason].valueCodeableConcept = $status-reason#new-signing "新签约"
* extension[package][0].valueCanonical = "https://jiayi.health/fhir/PlanDefinition/basic-public-health"
* extension[package][1].valueCanonical = "https://jiayi.health/fhir/PlanDefinition/basic-medical"
* extension[package][2].valueCanonical = "https://jiayi.health/fhir/PlanDefinition/kp-elderly-65"
* extension[package][3].valueCanonical = "https://jiayi.health/fhir/PlanDefinition/kp-hypertension"
* extension[package][4].valueCanonical = "https://jiayi.health/fhir/PlanDefinition/kp-child-0-6"
* extension[fee][0].extension[amount].valueMoney.value = 20
* extension[fee][0].extension[amount].valueMoney.currency = #CNY
* extension[fee][0].extension[fundingSource].valueCodeableConcept = $funding#public-health-funds "基本公共卫生服务经费"
* extension[fee][0].extension[component].valueString = "基本公卫服务包（每人每年）"
* extension[fee][1].extension[fundingSource].valueCodeableConcept = $funding#medical-insurance "医保基金"
* extension[fee][1].extension[component].valueString = "基本医疗保险政策范围内的门诊费用"
* extension[contactChannel].extension[telecom].valueContactPoint.system = #phone
* extension[contactChannel].extension[telecom].valueContactPoint.value = "020-84829121"
* extension[contactChannel].extension[hours].valueString = "周一至周五 08:00—17:30"
* extension[signingChannel].valueCoding = $channel#on-site "机构现场签约"
* signer[0].type = http://terminology.hl7.org/CodeSystem/contractsignertypecodes#CONSENTER "Consenter"
* signer[0].party = Reference(example-chen-guoqiang)
* signer[0].signature.type = urn:iso-astm:E1762-95:2013#1.2.840.10065.1.12.1.7 "Consent Signature"
* signer[0].signature.when = "2026-01-05T10:20:00+08:00"
* signer[0].signature.who = Reference(example-chen-guoqiang)
* signer[1].type = http://terminology.hl7.org/CodeSystem/contractsignertypecodes#GUARD "Guardian"
* signer[1].party = Reference(example-chen-wei)
* signer[1].signature.type = urn:iso-astm:E1762-95:2013#1.2.840.10065.1.12.1.7 "Consent Signature"
* signer[1].signature.when = "2026-01-05T10:25:00+08:00"
* signer[1].signature.who = Reference(example-chen-wei)
* signer[2].type = http://terminology.hl7.org/CodeSystem/contractsignertypecodes#HPROV "Healthcare Provider"
* signer[2].party = Reference(example-role-huang)
* signer[2].signature.type = urn:iso-astm:E1762-95:2013#1.2.840.10065.1.12.1.1 "Author's Signature"
* signer[2].signature.when = "2026-01-05T10:30:00+08:00"
* signer[2].signature.who = Reference(example-role-huang)

Instance: example-careplan-chen
InstanceOf: JiayiCarePlan
Title: "陈国强 2026—2028 签约服务计划"
Usage: #example
* status = #active
* intent = #plan
* subject = Reference(example-chen-guoqiang)
* period.start = "2026-01-05"
* period.end = "2029-01-04"
* careTeam = Reference(example-team-huang)
* supportingInfo = Reference(example-family-contract)
* instantiatesCanonical[0] = "https://jiayi.health/fhir/PlanDefinition/basic-public-health"
* instantiatesCanonical[1] = "https://jiayi.health/fhir/PlanDefinition/basic-medical"
* instantiatesCanonical[2] = "https://jiayi.health/fhir/PlanDefinition/kp-elderly-65"
* instantiatesCanonical[3] = "https://jiayi.health/fhir/PlanDefinition/kp-hypertension"
* activity[0].detail.status = #scheduled
* activity[0].detail.code = $item#basic-public-health.reminder-consultation.reminder "健康提醒"
* activity[0].detail.scheduledTiming.repeat.frequency = 12
* activity[0].detail.scheduledTiming.repeat.period = 1
* activity[0].detail.scheduledTiming.repeat.periodUnit = #a
* activity[1].detail.status = #scheduled
* activity[1].detail.code = $item#kp-hypertension.reminder-consultation.consultation
* activity[1].detail.scheduledTiming.repeat.frequency = 1
* activity[1].detail.scheduledTiming.repeat.period = 1
* activity[1].detail.scheduledTiming.repeat.periodUnit = #a

Instance: example-informed-consent
InstanceOf: JiayiInformedConsent
Title: "陈国强签约知情同意"
Usage: #example
* status = #active
* patient = Reference(example-chen-guoqiang)
* dateTime = "2026-01-05T10:18:00+08:00"
* performer = Reference(example-chen-guoqiang)
* organization = Reference(example-community-centre)
* sourceReference = Reference(example-family-contract)
* policyRule = http://terminology.hl7.org/CodeSystem/v3-ActCode#OPTIN "opt-in"
* provision.type = #permit
* provision.period.start = "2026-01-05"
* provision.period.end = "2029-01-04"

Instance: example-push-consent
InstanceOf: JiayiPushChannelConsent
Title: "陈国强推送渠道：退订短信"
Usage: #example
* status = #active
* patient = Reference(example-chen-guoqiang)
* dateTime = "2026-01-05T10:19:00+08:00"
* policyRule = http://terminology.hl7.org/CodeSystem/v3-ActCode#OPTIN "opt-in"
* provision.type = #permit
* provision.provision.type = #deny
* provision.provision.extension[channel].valueCode = #sms

Instance: example-order-tcm
InstanceOf: JiayiServiceItemOrder
Title: "点单：中医适宜技术体验（已接单）"
Usage: #example
* status = #accepted
* intent = #order
* code = $item#kp-elderly-65.elderly-tcm
* code.text = "老年人中医药健康管理服务"
* focus = Reference(example-family-contract)
* for = Reference(example-chen-guoqiang)
* authoredOn = "2026-02-10T09:00:00+08:00"
* requester = Reference(example-chen-guoqiang)
* owner = Reference(example-team-huang)

Instance: example-home-medicine-delivery
InstanceOf: JiayiPrimaryCareTask
Title: "药品配送到家（已接单）"
Usage: #example
* status = #accepted
* intent = #order
* code = $pcs#home-medicine-delivery "药品配送到家"
* focus = Reference(example-family-contract)
* for = Reference(example-chen-guoqiang)
* authoredOn = "2026-03-02T10:00:00+08:00"
* owner = Reference(example-team-huang)

Instance: example-confirmation
InstanceOf: JiayiContractConfirmation
Title: "2026年度签约确认任务"
Usage: #example
* status = #requested
* intent = #order
* focus = Reference(example-family-contract)
* for = Reference(example-chen-guoqiang)
* owner = Reference(example-team-huang)
* authoredOn = "2026-10-08T08:00:00+08:00"
* restriction.period.start = "2026-10-01"
* restriction.period.end = "2027-01-31"

Instance: example-audit-no-contact
InstanceOf: JiayiContractAuditFinding
Title: "签约质量核查：一年内无服务接触"
Usage: #example
* status = #preliminary
* code = https://jiayi.health/fhir/CodeSystem/contract-audit#no-contact
* severity = #moderate
* patient = Reference(example-chen-siqi)
* identifiedDateTime = "2027-01-05"
* implicated = Reference(example-family-contract)
* detail = "no contact with Patient/example-chen-siqi since 2026-01-05"
