// Extensions of the guide.  URLs are fixed by INTERFACE.md and docs/DATA-MODEL.md:
// https://jiayi.health/fhir/StructureDefinition/<id>.

Extension: DivisionCode
Id: division-code
Title: "行政区划代码 Administrative division code (GB/T 2260)"
Description: "The GB/T 2260 code of the district or county of an address (e.g. 440106 天河区). Names stay in state/city/district as text; the code makes addresses searchable and comparable across systems (INTERFACE.md; 粤(一): 以社区居委（村委）为单位公示; `Patient?division=`)."
Context: Address
* value[x] only code
* valueCode 1..1
* valueCode from $gb2260-vs (extensible)

Extension: CommunityUnit
Id: community-unit
Title: "社区/村单元 Community or village unit"
Description: "The residents' committee or village committee (社区居委/村委) and the housing estate, building or villagers' group (小区/楼宇/村民组) of an address: the units by which the national notice (一(一): 以居民小区或楼宇（村民组）为单位公布签约机构) and Guangdong (粤(一): 以社区居委（村委）为单位公示) publish signing institutions and assign service areas."
Context: Address
* extension contains committee 0..1 and unit 0..1
* extension[committee] ^short = "居委会/村委会 Residents' or village committee"
* extension[committee].value[x] only string
* extension[unit] ^short = "小区/楼宇/村民组 Housing estate, building or villagers' group"
* extension[unit].value[x] only string

Extension: FamilyMembership
Id: family-membership
Title: "家庭成员关系 Family membership"
Description: "The family Group (JiayiFamily) a resident belongs to, so a family contract (一(一)/粤(五): 以家庭为单位签约) can be found from the member; the Group lists all members, this extension is the member's back-pointer."
Context: Patient
* value[x] only Reference(JiayiFamily)

Extension: FamilyRole
Id: family-role
Title: "家庭角色 Role in the family"
Description: "A member's relationship within the family Group (e.g. 户主 head of household, spouse, child), from HL7 v3 FamilyMember / RoleCode; the head of household signs a family contract."
Context: Group.member
* extension contains relationship 0..1 and householder 0..1
* extension[relationship].value[x] only CodeableConcept
* extension[relationship].valueCodeableConcept from http://terminology.hl7.org/ValueSet/v3-FamilyMember (extensible)
* extension[householder] ^short = "户主 Head of household"
* extension[householder].value[x] only boolean

Extension: MultiSitePractice
Id: multi-site-practice
Title: "多点执业 Registered practice site"
Description: "A site where the practitioner is registered to practise (执业地点), marking the principal site and additional multi-site practice registrations (多点执业). Guangdong encourages doctors of every level to sign residents at primary institutions through multi-site practice (粤(二)); the PractitionerRole at that site carries the actual post."
Context: Practitioner
* extension contains organization 1..1 and principal 0..1 and period 0..1
* extension[organization].value[x] only Reference(JiayiOrganization)
* extension[principal] ^short = "主要执业机构 Principal site"
* extension[principal].value[x] only boolean
* extension[period].value[x] only Period

Extension: SinkingFrom
Id: sinking-from
Title: "下沉来源机构 Sinking doctor's home hospital"
Description: "On a PractitionerRole at a primary institution: the leading or level-2/3 hospital the doctor comes from (下沉医生). Such doctors may sign residents directly with the primary institution as platform (一(二); 粤(二)); the extension keeps the home hospital for remuneration and reports."
Context: PractitionerRole
* value[x] only Reference(JiayiOrganization)

Extension: ConsortiumLead
Id: consortium-lead
Title: "牵头医院 Leading hospital of a medical group or county consortium"
Description: "On the Organization of a close-knit urban medical group (紧密型城市医疗集团) or county medical consortium (紧密型县域医共体): its leading hospital, which arranges referrals with the three priorities and sends sinking doctors (一(二)(四); 粤(二)(四)). Member institutions point to the group with Organization.partOf."
Context: Organization
* value[x] only Reference(JiayiOrganization)

Extension: MobilePoint
Id: mobile-point
Title: "流动医疗点 Mobile medical point"
Description: "true for a mobile (roving) medical point, false for a fixed one. Primary institutions may set fixed or mobile medical points in communities (一(五); 粤(五): 设置固定或流动医疗点)."
Context: Location
* value[x] only boolean

Extension: SigningChannel
Id: signing-channel
Title: "签约途径 Signing channel"
Description: "How residents can sign (on a HealthcareService public notice) or how a contract was signed (on a Contract): on site, online, community event, home visit (一(一): 公布…签约途径; 粤(一)(五); INTERFACE.md fixed codes). valueCoding, as the contracting service writes it."
Context: HealthcareService, Contract
* value[x] only Coding
* valueCoding from $channel-vs (required)

Extension: PublicityDay
Id: publicity-day
Title: "主题宣传日 Publicity day"
Description: "The publicity day (世界家庭医生日 5月19日, 中国医师节 8月19日, 重阳节) around which a signing and publicity event is held (一(十): 每年5月19日“世界家庭医生日”和重阳节等前后开展主题宣传活动…现场咨询、义诊和签约等活动; 粤(十)): on the public notice of a community's signing event (HealthcareService) or on a health push announcing it (Communication). valueCoding, required from publicity-day (the days the seeds name)."
Context: HealthcareService, Communication
* value[x] only Coding
* valueCoding 1..1
* valueCoding from $pubday-vs (required)

Extension: ContractCareTeam
Id: contract-care-team
Title: "签约团队 Contracted family-doctor team"
Description: "The family-doctor team (CareTeam) that serves the contract. A contract is signed with a team (团队签约) or with one doctor inside a team (一 引言: 团队签约向医生个人签约拓展); the signing doctor is a Contract.signer. Search: `Contract?care-team=` (docs/DATA-MODEL.md)."
Context: Contract
* value[x] only Reference(JiayiFamilyDoctorTeam)

Extension: ContractFamily
Id: contract-family
Title: "签约家庭 Contracted family"
Description: "For a family contract (以家庭为单位签约, 一(一); 粤(五)): the family Group; every member is also listed in Contract.subject. Search: `Contract?family=`."
Context: Contract
* value[x] only Reference(JiayiFamily)

Extension: ContractTerminationReason
Id: contract-termination-reason
Title: "解约原因 Contract termination reason"
Description: "Why a contract ended early (status terminated; the date is Contract.applies.end): moved out, unreachable, refused service, resident request, death, transfer (INTERFACE.md fixed codes)."
Context: Contract
* value[x] only CodeableConcept
* valueCodeableConcept from $term-reason-vs (required)

Extension: ContractStatusReason
Id: contract-status-reason
Title: "签约状态原因 Contract status reason"
Description: "Why the contract is in its status: new signing, renewal, transfer-in, awaiting or done annual confirmation (年度确认, 一(十); 粤(十)), expired. R4 Contract has no statusReason element."
Context: Contract
* value[x] only CodeableConcept
* valueCodeableConcept from $status-reason-vs (required)

Extension: ContractPackage
Id: contract-package
Title: "签约服务包 Service package of a contract"
Description: "A service package (PlanDefinition: basic-public-health, basic-medical, kp-<population> or a personalised package) the contract covers (一(八); 粤(八)). The member's CarePlan lists the packages applied in CarePlan.instantiatesCanonical."
Context: Contract
* value[x] only canonical
* valueCanonical only Canonical(PlanDefinition)

Extension: ContactChannel
Id: contact-channel
Title: "联系渠道 Contact channel told at signing"
Description: "The team's contact channel and working hours told to the resident when signing (附件1 基本公卫服务包 5: 建立家庭医生和签约居民联系渠道; 附件2: 确保家庭医生联系方式真实可用). Repeats per channel."
Context: Contract
* extension contains telecom 1..1 and hours 0..1
* extension[telecom].value[x] only ContactPoint
* extension[hours] ^short = "服务时间 Service hours (text)"
* extension[hours].value[x] only string

Extension: SolarTerm
Id: solar-term
Title: "节气 Solar term"
Description: "The solar term (二十四节气) a health push is timed to: pushes follow the seasons and solar terms (一(三); 附件1: 按照节气向签约居民推送)."
Context: Communication, CommunicationRequest
* value[x] only CodeableConcept
* valueCodeableConcept from $solar-vs (required)

Extension: ReferralPriority
Id: referral-priority
Title: "转诊三优先 Referral priority used"
Description: "Which of the three priorities (三优先: appointment, examination, admission) an upward referral asks for or used (粤(四)). ServiceRequest.priority keeps its required FHIR meaning (routine/urgent), so the priority kind is an extension."
Context: ServiceRequest
* value[x] only CodeableConcept
* valueCodeableConcept from $priority-vs (required)

Extension: ReferralReservedShare
Id: referral-reserved-share
Title: "转诊预留比例 Share reserved for referrals"
Description: "On a Schedule (expert clinic, examination or bed pool): the proportion (0–1) of its slots reserved for residents referred by family doctors (一(四): 按一定比例为基层签约居民预留门诊号源和住院床位; 粤(四)). Reserved slots carry the slot-reservation tag."
Context: Schedule
* value[x] only decimal
* obeys jy-share-range

Invariant: jy-share-range
Description: "预留比例在 0 与 1 之间 The reserved share lies between 0 and 1"
Expression: "value.empty() or (value >= 0 and value <= 1)"
Severity: #error

Extension: ConditionStable
Id: condition-stable
Title: "病情稳定 Condition stable"
Description: "The prescriber's attestation that the chronic condition a long-term prescription treats is stable (病情稳定的慢性病患者, 粤(六)); required true on a long-term prescription."
Context: MedicationRequest
* value[x] only boolean

Extension: ConsentChannel
Id: consent-channel
Title: "推送渠道 Push channel"
Description: "On a Consent provision: the channel (contact point system: sms, phone, email, other = app/WeChat) the provision permits or denies, so a resident can opt out of a push channel (issue 7) while keeping others."
Context: Consent.provision
* value[x] only code
* valueCode from http://hl7.org/fhir/ValueSet/contact-point-system (required)

Extension: PointsLedgerAccount
Id: points-ledger-account
Title: "积分账户 Health-points account"
Description: "The health-points Account a ledger entry belongs to."
Context: Basic
* value[x] only Reference(JiayiHealthPointsAccount)

Extension: PointsAmount
Id: points-amount
Title: "积分数 Points"
Description: "Points of a ledger entry: positive when earned, negative when redeemed or reversed."
Context: Basic
* value[x] only integer

Extension: PointsSource
Id: points-source
Title: "积分依据 What the points are for"
Description: "The service that earned the points (an Encounter, Observation, Communication, QuestionnaireResponse …: 健康教育、健康体检、慢性病随访, 一(九); 粤(九)) or the service item redeemed (兑换健康服务项目)."
Context: Basic
* extension contains earnedBy 0..1 and redeemedFor 0..1 and reverses 0..1
* extension[earnedBy].value[x] only Reference
* extension[redeemedFor].value[x] only CodeableConcept
* extension[redeemedFor].valueCodeableConcept from $item-vs (extensible)
* extension[reverses] ^short = "冲正 The entry this one reverses"
* extension[reverses].value[x] only Reference(JiayiHealthPointsEntry)

Extension: PointsBalance
Id: points-balance
Title: "积分余额 Points balance"
Description: "The balance of a health-points Account (sum of its ledger entries) as last computed; informative, the entries are the record (R4 Account has no balance element)."
Context: Account
* value[x] only integer
