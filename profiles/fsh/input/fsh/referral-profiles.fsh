// Referrals: downward referrals, their Tasks and the referral notifications (issue 8).
// JiayiReferral / JiayiReferralTask (services.fsh) model the upward way, whose performer and owner
// are hospitals; going down the receiver is the resident's family-doctor team (a CareTeam).

Alias: $referral-marker = https://jiayi.health/fhir/CodeSystem/referral-marker

Invariant: jy-referral-down-summary
Description: "下转须附出院或治疗小结 A downward referral carries the discharge or treatment summary (note, or supportingInfo other than the Contract)"
Expression: "note.exists() or supportingInfo.where(reference.startsWith('Contract/').not()).exists()"
Severity: #error

Invariant: jy-referral-down-task
Description: "下转任务标明方向 The Task of a downward referral is coded referral-direction|down"
Expression: "code.coding.where(system = 'https://jiayi.health/fhir/CodeSystem/referral-direction' and code = 'down').exists()"
Severity: #error

Profile: JiayiDownwardReferral
Parent: ServiceRequest
Id: jiayi-downward-referral
Title: "下转 Downward referral (ServiceRequest)"
Description: "A hospital refers a signed resident back to primary care with the discharge or treatment summary (粤(四): 及时向基层机构反馈下转患者信息; 国卫办基层发〔2025〕21号 一(四): 及时向基层医疗卫生机构推送下转患者信息). category: direction down (referral-direction); requester: the hospital doctor (PractitionerRole or Practitioner) or the hospital; performer (team, institution, doctor or service): the resident's contracted family-doctor team (CareTeam) and institution, found by the server from the Contract in force (supportingInfo names it), or named by the hospital; the summary in note (or supportingInfo), enforced by jy-referral-down-summary; code: what primary care is to continue. The team's acknowledgement is a Task (JiayiDownwardReferralTask). Kept apart from JiayiReferral, whose performers are hospitals and whose code is fixed for the upward way."
* obeys jy-referral-down-summary
* status MS
* intent = #order
* category 1..* MS
* category ^slicing.discriminator.type = #value
* category ^slicing.discriminator.path = "coding.system"
* category ^slicing.rules = #open
* category contains direction 1..1 MS
* category[direction].coding.system 1..1
* category[direction].coding.system = "https://jiayi.health/fhir/CodeSystem/referral-direction" (exactly)
* category[direction].coding.code 1..1
* category[direction].coding.code = #down (exactly)
* code 1..1 MS
* subject only Reference(JiayiResidentPatient)
* authoredOn 1..1 MS
* requester 1..1 MS
* requester only Reference(JiayiPractitionerRole or JiayiPractitioner or JiayiOrganization)
* performer 1..* MS
* performer only Reference(JiayiFamilyDoctorTeam or JiayiOrganization or JiayiPractitionerRole or JiayiPractitioner or JiayiHealthcareService)
* supportingInfo MS
* note MS

Profile: JiayiDownwardReferralTask
Parent: Task
Id: jiayi-downward-referral-task
Title: "下转接收 Team's acknowledgement of a downward referral (Task)"
Description: "The contracted family-doctor team's worklist item for a downward referral: created by the server with status requested, owned by the team (CareTeam), acknowledged by moving it on (accepted …; executionPeriod.start is the acknowledgement time, reported by $referral-report); code task-code|fulfill and referral-direction|down (jy-referral-down-task); focus and basedOn the JiayiDownwardReferral (粤(四); 国卫办基层发〔2025〕21号 一(四))."
* obeys jy-referral-down-task
* status MS
* statusReason MS
* intent = #order
* code 1..1 MS
* focus 1..1 MS
* focus only Reference(JiayiDownwardReferral)
* for 1..1 MS
* for only Reference(JiayiResidentPatient)
* authoredOn 1..1 MS
* requester MS
* owner 1..1 MS
* owner only Reference(JiayiFamilyDoctorTeam or JiayiOrganization or JiayiHealthcareService or JiayiPractitionerRole or JiayiPractitioner)
* executionPeriod MS

Profile: JiayiReferralCommunication
Parent: Communication
Id: jiayi-referral-communication
Title: "转诊通知 Referral notification (Communication)"
Description: "What the server tells the other side of a referral, in the same transaction as the change: a hospital Task's status change (accepted, rejected with its reason, completed …; alternatives offered travel as payload references to Slots) to the referring family-doctor team and doctor; a booking, cancellation or move of a referral appointment to them and the hospital; a downward referral to the contracted team and institution (粤(四) 畅通双向转诊; 国卫办基层发〔2025〕21号 一(四)). category referral-marker|referral-notification; basedOn the referral; about the Task or Appointment that changed."
* status MS
* category 1..* MS
* category ^slicing.discriminator.type = #value
* category ^slicing.discriminator.path = "coding.code"
* category ^slicing.rules = #open
* category contains notification 1..1 MS
* category[notification].coding.system 1..1
* category[notification].coding.system = "https://jiayi.health/fhir/CodeSystem/referral-marker" (exactly)
* category[notification].coding.code 1..1
* category[notification].coding.code = #referral-notification (exactly)
* basedOn 1..* MS
* basedOn only Reference(JiayiReferral or JiayiDownwardReferral)
* subject MS
* subject only Reference(JiayiResidentPatient)
* about MS
* about only Reference(Task or Appointment)
* sent 1..1 MS
* recipient 1..* MS
* sender MS
* payload 1..* MS

Instance: example-referral-down
InstanceOf: JiayiDownwardReferral
Title: "下转：PCI术后回社区随访"
Usage: #example
* status = #active
* intent = #order
* category[direction] = $direction#down "下转"
* code.text = "下转社区康复随访"
* subject = Reference(example-chen-guoqiang)
* authoredOn = "2026-03-20T16:00:00+08:00"
* requester = Reference(example-dr-liang)
* performer[0] = Reference(example-team-huang)
* performer[1] = Reference(example-community-centre)
* supportingInfo = Reference(example-family-contract)
* note.text = "出院小结：急性冠脉综合征PCI术后，病情稳定，继续阿司匹林+阿托伐他汀，2周后社区随访血压血脂"

Instance: example-referral-down-task
InstanceOf: JiayiDownwardReferralTask
Title: "黄丽娟家庭医生团队接收下转患者"
Usage: #example
* status = #accepted
* intent = #order
* code.coding[0] = $task-code#fulfill
* code.coding[1] = $direction#down "下转"
* focus = Reference(example-referral-down)
* basedOn = Reference(example-referral-down)
* for = Reference(example-chen-guoqiang)
* authoredOn = "2026-03-20T16:00:00+08:00"
* requester = Reference(example-dr-liang)
* owner = Reference(example-team-huang)
* executionPeriod.start = "2026-03-20T18:30:00+08:00"

Instance: example-referral-notification
InstanceOf: JiayiReferralCommunication
Title: "转诊状态通知：医院已接收"
Usage: #example
* status = #completed
* category[notification] = $referral-marker#referral-notification
* basedOn = Reference(example-referral-up)
* subject = Reference(example-chen-guoqiang)
* about = Reference(example-referral-task)
* sent = "2026-03-02T10:05:00+08:00"
* recipient[0] = Reference(example-team-huang)
* recipient[1] = Reference(example-role-huang)
* sender = Reference(example-leading-hospital)
* payload.contentString = "转诊状态 / referral status: accepted"
