// Contracting: Contract, CarePlan, PlanDefinition, ActivityDefinition, Consent, Task.

Invariant: jy-contract-term
Description: "签约服务周期为1至3年（已解约的协议除外） The term in applies runs 1 to 3 years (a terminated contract may end early): end is at least start + 1 year - 1 day and at most start + 3 years"
Expression: "%resource.status = 'terminated' or (start.exists() and end.exists() and end >= ((start + 1 year) - 1 day) and end <= (start + 3 years))"
Severity: #error

Invariant: jy-contract-terminated
Description: "已解约的协议须写明解约原因和日期 A terminated contract names its termination reason and end date"
Expression: "status = 'terminated' implies (extension('https://jiayi.health/fhir/StructureDefinition/contract-termination-reason').exists() and applies.end.exists())"
Severity: #error

Invariant: jy-contract-family
Description: "家庭签约的所有成员均列于 subject A family contract lists at least one member in subject"
Expression: "extension('https://jiayi.health/fhir/StructureDefinition/contract-family').exists() implies subject.count() >= 1"
Severity: #error

Profile: JiayiContract
Parent: Contract
Id: jiayi-contract
Title: "家庭医生签约服务协议 Signing agreement (Contract)"
Description: "The family-doctor signing agreement (签约服务协议) between a resident (or a family) and a family-doctor team of a primary institution. Status: executed = in force, terminated = ended early (contract-termination-reason extension, date in applies.end), renewed = superseded by its renewal; the status reason (new, renewal, annual confirmation …) is in contract-status-reason. Term: applies, 1–3 years (jy-contract-term; 粤(一): 1－3年的中长期服务协议). Parties: subject (every member), authority[0] the primary institution, signer (resident or guardian, signing doctor as PractitionerRole), the team in contract-care-team, the family in contract-family. Packages (contract-package), fee and funding split (fee-standard: 医保基金、基本公共卫生服务经费和个人付费等分担机制, 一(八); 粤(八)), informed consent (supportingInfo → Consent), contact channel told at signing (contact-channel, 附件1 5), and the signing channel (signing-channel). At most one executed contract per resident covers a date (docs/DATA-MODEL.md)."
* status 1..1 MS
* applies 1..1 MS
* applies.start 1..1 MS
* subject 1..* MS
* subject only Reference(JiayiResidentPatient)
* authority 1..1 MS
* authority only Reference(JiayiOrganization)
* signer 1..* MS
* signer.party only Reference(JiayiResidentPatient or JiayiRelatedPerson or JiayiPractitionerRole or JiayiOrganization)
* supportingInfo MS
* supportingInfo ^short = "知情同意 The informed Consent (and other supporting records)"
* extension contains
    ContractCareTeam named careTeam 1..1 MS and
    ContractFamily named family 0..1 MS and
    ContractTerminationReason named terminationReason 0..1 MS and
    ContractStatusReason named statusReason 0..1 MS and
    ContractPackage named package 0..* MS and
    $fee-standard named fee 0..* MS and
    ContactChannel named contactChannel 0..* MS and
    SigningChannel named signingChannel 0..1 MS
* applies obeys jy-contract-term
* obeys jy-contract-terminated and jy-contract-family

Profile: JiayiCarePlan
Parent: CarePlan
Id: jiayi-careplan
Title: "签约居民服务计划 Resident's care plan (CarePlan)"
Description: "One per member per contract period: the services promised by the packages applied to the resident (basic packages plus the key-population packages that apply; instantiatesCanonical lists them, INTERFACE.md), scheduled over the contract term (period). supportingInfo points to the Contract (search `CarePlan?contract=`), careTeam to the family-doctor team; activity.detail holds one scheduled service item each (code from service-item, scheduledTiming). Delivered services reference the plan through basedOn, which is how fulfilment (履约) is counted (粤 三: 确保签约真实、履约务实)."
* instantiatesCanonical 1..* MS
* instantiatesCanonical only Canonical(PlanDefinition)
* status MS
* intent = #plan
* subject only Reference(JiayiResidentPatient)
* period 1..1 MS
* period.start 1..1
* careTeam 1..* MS
* careTeam only Reference(JiayiFamilyDoctorTeam)
* supportingInfo 1..* MS
* supportingInfo ^short = "The Contract this plan fulfils"
* activity MS
* activity.detail.code 1..1 MS
* activity.detail.code from $item-vs (extensible)
* activity.detail.scheduled[x] MS
* obeys jy-careplan-contract

Invariant: jy-careplan-contract
Description: "服务计划须指向其签约协议 The care plan points to its Contract in supportingInfo"
Expression: "supportingInfo.where(reference.startsWith('Contract/') or reference.contains('/Contract/')).exists()"
Severity: #error

Profile: JiayiServicePackage
Parent: PlanDefinition
Id: jiayi-service-package
Title: "签约服务包 Service package (PlanDefinition)"
Description: "A family-doctor service package: the basic packages of 附件1 (basic-public-health, basic-medical), the key-population packages of 附件2 (kp-<population>) and personalised packages (一(八); 粤(八)). Population in useContext (focus: key-population code), one action per annex row with the verbatim content and requirement, structured frequency, applicability as FHIRPath, fee standard and funding sources in fee-standard extensions."
* url 1..1 MS
* name 1..1
* title 1..1 MS
* status MS
* description 1..1 MS
* useContext MS
* action 1..* MS
* action.title 1..1 MS
* action.code 1..* MS
* action.definition[x] MS
* extension contains $fee-standard named fee 0..* MS

Profile: JiayiServiceItem
Parent: ActivityDefinition
Id: jiayi-service-item
Title: "签约服务项目 Service item (ActivityDefinition)"
Description: "An entry of the service-item library (签约服务项目库: 健康管理、社区服务、医疗服务和公共卫生服务, 一(八); 粤(八)) from which residents order (点单) and packages are built: code from service-item, category (topic: service-item-category), frequency (timing[x], with timing-comparator for 'at least'), and delivery mode face-to-face / home / online (delivery-mode)."
* url 1..1 MS
* title 1..1 MS
* status MS
* code 1..1 MS
* code from $item-vs (extensible)
* topic 1..* MS
* timing[x] MS
* extension contains $delivery-mode named deliveryMode 0..* MS and $fee-standard named fee 0..* MS

Profile: JiayiInformedConsent
Parent: Consent
Id: jiayi-informed-consent
Title: "签约知情同意 Informed consent to the contract (Consent)"
Description: "The resident's (or guardian's) informed consent given when signing: to the services of the contract, to home or face-to-face follow-ups (在知情同意情况下…上门或面对面随访, 一(七); 附件2), and to receiving health pushes. Scope treatment, category LOINC 59284-0 (Patient Consent); sourceReference points to the Contract."
* status MS
* scope = $consentscope#treatment
* category 1..*
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category contains informed 1..1
* category[informed] = $loinc#59284-0 "Patient Consent"
* patient 1..1 MS
* patient only Reference(JiayiResidentPatient)
* dateTime 1..1 MS
* performer MS
* organization MS
* source[x] 1..1 MS
* source[x] only Reference(JiayiContract)
* policyRule MS

Profile: JiayiPushChannelConsent
Parent: Consent
Id: jiayi-push-channel-consent
Title: "推送渠道同意/退订 Push-channel consent and opt-outs (Consent)"
Description: "Which channels a resident accepts health pushes on: the base provision permits, nested provisions of type deny name an opted-out channel (consent-channel extension). The push planner sends nothing on a denied channel and counts the resident as an exception with reason (issue 7; 一(三): 定期推送健康信息)."
* status MS
* scope = $consentscope#patient-privacy
* category 1..*
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category contains pushes 1..1
* category[pushes] = $v3-act#INFA "information access"
* patient 1..1 MS
* patient only Reference(JiayiResidentPatient)
* dateTime 1..1 MS
* policyRule 1..1
* provision 1..1 MS
* provision.type = #permit
* provision.provision MS
* provision.provision.type 1..1
* provision.provision.extension contains ConsentChannel named channel 1..1 MS

Profile: JiayiServiceItemOrder
Parent: Task
Id: jiayi-service-item-order
Title: "点单/接单 Personalised service-item order (Task)"
Description: "A resident orders (点单) a service item from the library and the family-doctor team accepts (接单) and delivers it (一(八): 由居民根据自身需求“点单”选择; 粤(八): 支持居民按需求“点单”、家庭医生团队结合实际“接单”). code: the service item; for and requester: the resident; owner: the team or a member; status: requested → accepted/rejected → in-progress → completed; focus: the Contract; output: the delivered service."
* status MS
* intent = #order
* code 1..1 MS
* code from $item-vs (extensible)
* focus 1..1 MS
* focus only Reference(JiayiContract or JiayiCarePlan)
* for 1..1 MS
* for only Reference(JiayiResidentPatient)
* authoredOn 1..1 MS
* requester 1..1 MS
* requester only Reference(JiayiResidentPatient or JiayiRelatedPerson)
* owner MS
* owner only Reference(JiayiFamilyDoctorTeam or JiayiPractitionerRole)
* statusReason MS
* obeys jy-task-owner

Invariant: jy-task-owner
Description: "已接单的项目须有承接团队或医生 An accepted order names its owner"
Expression: "(status = 'accepted' or status = 'in-progress' or status = 'completed') implies owner.exists()"
Severity: #error

Profile: JiayiPrimaryCareTask
Parent: Task
Id: jiayi-primary-care-task
Title: "签约延伸服务任务 Primary-care service task (Task)"
Description: "A service or arrangement of the contract that is not a row of the package annexes, done by the family-doctor team for a signed resident: shortage-drug registration, prescription outflow and home delivery of medicines (一(六); 粤(六)), medication monitoring of key populations, the annual health-assessment report, family sickbeds, long-term-care assessment and care (一(七); 粤(七)), health-education and vaccine prescriptions (粤(三)), self-management group activities, home visits (粤(八)), points redemption (一(九); 粤(九)) and the 'five ones' bundle of community signing (粤(五)). code: which service, required from primary-care-service (the code system is the guide's closed list of these arrangements; a service-item of the packages is ordered with JiayiServiceItemOrder instead); for: the resident; focus: the Contract; owner: the team or a member."
* status MS
* code 1..1 MS
* code from $pcs-vs (required)
* focus 0..1 MS
* focus only Reference(JiayiContract or JiayiCarePlan)
* for 1..1 MS
* for only Reference(JiayiResidentPatient)
* authoredOn 1..1 MS
* owner MS
* owner only Reference(JiayiFamilyDoctorTeam or JiayiPractitionerRole)
* obeys jy-task-owner

Profile: JiayiContractConfirmation
Parent: Task
Id: jiayi-contract-confirmation
Title: "年度签约确认 Annual contract confirmation or renewal (Task)"
Description: "The yearly confirmation and renewal of contracts in Q4 to early next year (一(十): 每年末或年初应集中开展家庭医生签约服务确认工作; 粤(十)): a Task for the team (owner) to confirm (code approve) the Contract in focus with the resident; completed when confirmed, then the contract's status reason becomes confirmed or a renewal is signed."
* status MS
* intent = #order
* code 1..1
* code = $task-code#approve
* focus 1..1 MS
* focus only Reference(JiayiContract)
* for 1..1 MS
* for only Reference(JiayiResidentPatient)
* owner 1..1 MS
* owner only Reference(JiayiFamilyDoctorTeam or JiayiPractitionerRole)
* executionPeriod MS
* restriction.period MS

Profile: JiayiContractAuditFinding
Parent: DetectedIssue
Id: jiayi-contract-audit-finding
Title: "签约质量核查发现 Contract audit finding (DetectedIssue)"
Description: "A finding of the contract quality audit (签约真实、履约务实, 粤 三 组织实施; `jiayi jobs run contract-audit`): a contract in force without an informed consent, a resident without any contact in the last year, a resident signed twice, or a signer without an active role at the contract's institution. code from contract-audit; implicated: the Contract; patient: the resident concerned (absent for findings about the whole contract). One finding per (contract, code, resident)."
* status MS
* code 1..1 MS
* code from https://jiayi.health/fhir/ValueSet/contract-audit (required)
* patient MS
* patient only Reference(JiayiResidentPatient)
* identified[x] 1..1 MS
* identified[x] only dateTime
* implicated 1..* MS
* implicated only Reference(JiayiContract)
* detail 1..1 MS
