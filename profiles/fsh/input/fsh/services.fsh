// Services: pushes, referrals, reserved slots, long-term prescriptions, satisfaction, indicators, points.

Profile: JiayiHealthPush
Parent: Communication
Id: jiayi-health-push
Title: "健康信息推送 Health push (Communication)"
Description: "A health message pushed to a signed resident: at least 12 a year, timed by season and solar term, covering exercise, diet, tobacco, alcohol, 三减, iodine, weight, chronic disease, 健康素养66条, key infectious diseases …, at least one personalised (一(三); 粤(三); 附件1 3). category carries the push-topic code(s) and exactly one push-kind (personalised / routine / alert); medium is the channel (v3 ParticipationMode: ONLINEWRIT app/WeChat, WRITTEN SMS, PHONE, FACE); solar-term extension the solar term; basedOn the resident's CarePlan (counts towards fulfilment)."
* status MS
* category 2..* MS
* category ^slicing.discriminator.type = #value
* category ^slicing.discriminator.path = "coding.system"
* category ^slicing.rules = #open
* category contains topic 1..* MS and kind 1..1 MS
* category[topic].coding.system 1..1
* category[topic].coding.system = "https://jiayi.health/fhir/CodeSystem/push-topic" (exactly)
* category[topic] from $topic-vs (required)
* category[kind].coding.system 1..1
* category[kind].coding.system = "https://jiayi.health/fhir/CodeSystem/push-kind" (exactly)
* category[kind] from $push-kind-vs (required)
* priority MS
* medium MS
* subject 1..1 MS
* subject only Reference(JiayiResidentPatient)
* recipient 1..* MS
* basedOn MS
* sent MS
* payload 1..* MS
* payload.content[x] only string
* extension contains SolarTerm named solarTerm 0..1 MS
* extension contains PublicityDay named publicityDay 0..1 MS

Profile: JiayiReferral
Parent: ServiceRequest
Id: jiayi-referral
Title: "双向转诊 Referral up or down (ServiceRequest)"
Description: "A referral of a signed resident: upward from the family doctor to a leading or level-2/3 hospital (预约就诊、检查和住院三优先, 粤(四)), or downward back to primary care with feedback (及时向基层机构反馈下转患者信息). category: direction (referral-direction); referral-priority extension: which of the three priorities applies (appointment / examination / admission); requester: the referring PractitionerRole; performer: hospital, department (HealthcareService) or doctor; supportingInfo: the Contract; the hospital's progress is a Task (JiayiReferralTask) and a booking an Appointment (basedOn this request)."
* status MS
* intent = #order
* category 1..* MS
* category ^slicing.discriminator.type = #value
* category ^slicing.discriminator.path = "coding.system"
* category ^slicing.rules = #open
* category contains direction 1..1 MS
* category[direction].coding.system 1..1
* category[direction].coding.system = "https://jiayi.health/fhir/CodeSystem/referral-direction" (exactly)
* category[direction] from $direction-vs (required)
* code 1..1 MS
* code = $sct#3457005 "Patient referral"
* subject only Reference(JiayiResidentPatient)
* authoredOn 1..1 MS
* requester 1..1 MS
* requester only Reference(JiayiPractitionerRole or JiayiOrganization)
* performer 1..* MS
* performer only Reference(JiayiOrganization or JiayiHealthcareService or JiayiPractitionerRole)
* reasonCode MS
* reasonReference MS
* supportingInfo MS
* extension contains ReferralPriority named threePriorities 0..3 MS

Profile: JiayiReferralTask
Parent: Task
Id: jiayi-referral-task
Title: "转诊处理 Hospital's handling of a referral (Task)"
Description: "The receiving hospital's progress on a referral: accepted, rejected (statusReason), in progress, completed; focus is the ServiceRequest, output may point to the discharge summary fed back to primary care (一(四); 粤(四))."
* status MS
* statusReason MS
* intent = #order
* focus 1..1 MS
* focus only Reference(JiayiReferral)
* for only Reference(JiayiResidentPatient)
* owner MS
* owner only Reference(JiayiOrganization or JiayiHealthcareService or JiayiPractitionerRole)

Profile: JiayiReferralSchedule
Parent: Schedule
Id: jiayi-referral-schedule
Title: "专家号源/床位排班 Hospital schedule with a referral share (Schedule)"
Description: "An expert clinic, examination or bed pool of a hospital with the share of its slots reserved for residents referred by family doctors (referral-reserved-share; 一(四): 按一定比例为基层签约居民预留门诊号源和住院床位，明确专家号源数量; 粤(四))."
* active MS
* serviceCategory MS
* serviceType MS
* specialty MS
* actor 1..* MS
* planningHorizon MS
* extension contains ReferralReservedShare named reservedShare 0..1 MS

Profile: JiayiReservedSlot
Parent: Slot
Id: jiayi-reserved-slot
Title: "转诊预留号源 Slot reserved for referrals (Slot)"
Description: "A slot of an expert clinic, examination or bed pool held for referred signed residents, recognised by meta.tag slot-reservation|referral (INTERFACE.md). Booking is POST Appointment naming the slot (409 when taken)."
* meta.tag 1..*
* meta.tag ^slicing.discriminator.type = #value
* meta.tag ^slicing.discriminator.path = "code"
* meta.tag ^slicing.rules = #open
* meta.tag contains referral 1..1
* meta.tag[referral].system 1..1
* meta.tag[referral].system = "https://jiayi.health/fhir/CodeSystem/slot-reservation" (exactly)
* meta.tag[referral].code 1..1
* meta.tag[referral].code = #referral (exactly)
* schedule only Reference(JiayiReferralSchedule)
* status MS

Profile: JiayiReferralAppointment
Parent: Appointment
Id: jiayi-referral-appointment
Title: "转诊预约 Referral appointment (Appointment)"
Description: "A booking of a reserved slot for a referred resident: slot names the reserved Slot, basedOn the referral ServiceRequest (粤(四): 预约就诊、检查和住院三优先)."
* status MS
* slot 1..* MS
* slot only Reference(JiayiReservedSlot)
* basedOn 1..* MS
* basedOn only Reference(JiayiReferral)
* participant 1..* MS

Invariant: jy-long-term-supply
Description: "长期处方的用药时长为4至12周 A long-term prescription supplies 4 to 12 weeks (28–84 days)"
Expression: "system = 'http://unitsofmeasure.org' and ((code = 'wk' and value >= 4 and value <= 12) or (code = 'd' and value >= 28 and value <= 84))"
Severity: #error

Invariant: jy-long-term-stable
Description: "长期处方仅用于病情稳定的慢性病患者 A long-term prescription names the chronic condition it treats and attests it is stable"
Expression: "(reasonReference.exists() or reasonCode.exists()) and extension('https://jiayi.health/fhir/StructureDefinition/condition-stable').value = true"
Severity: #error

Profile: JiayiLongTermPrescription
Parent: MedicationRequest
Id: jiayi-long-term-prescription
Title: "长期处方 Long-term prescription (MedicationRequest)"
Description: "An outpatient long-term prescription for a signed patient whose chronic condition is stable: supply of 4–12 weeks (一(六): 4~12周门诊长期处方; 粤(六): 最长12周), enforced by jy-long-term-supply on dispenseRequest.expectedSupplyDuration; the chronic condition in reasonReference/reasonCode (ICD-10) and the stability attestation (condition-stable = true) by jy-long-term-stable; courseOfTherapyType continuous."
* status MS
* intent = #order
* subject only Reference(JiayiResidentPatient)
* courseOfTherapyType 1..1
* courseOfTherapyType = http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy#continuous
* reasonCode MS
* reasonReference MS
* reasonReference only Reference(Condition)
* dosageInstruction 1..* MS
* dispenseRequest 1..1 MS
* dispenseRequest.expectedSupplyDuration 1..1 MS
* extension contains ConditionStable named conditionStable 1..1 MS
* dispenseRequest.expectedSupplyDuration obeys jy-long-term-supply
* obeys jy-long-term-stable

Profile: JiayiSatisfactionSurvey
Parent: Questionnaire
Id: jiayi-satisfaction-survey
Title: "签约居民满意度调查 Satisfaction questionnaire (Questionnaire)"
Description: "The questionnaire for signed residents' satisfaction (粤 一: 到2027年全省签约居民满意度达到85%左右); items have linkIds, a 'overall' item carries the overall satisfaction used by the satisfaction indicator."
* url 1..1 MS
* status MS
* subjectType = #Patient
* item 1..* MS
* obeys jy-survey-overall

Invariant: jy-survey-overall
Description: "满意度问卷须有总体满意度条目 linkId 'overall' The questionnaire has an item with linkId 'overall'"
Expression: "item.where(linkId = 'overall').exists()"
Severity: #error

Profile: JiayiSatisfactionResponse
Parent: QuestionnaireResponse
Id: jiayi-satisfaction-response
Title: "满意度调查答卷 Satisfaction response (QuestionnaireResponse)"
Description: "A signed resident's answers to the satisfaction questionnaire; basedOn the resident's CarePlan, subject the resident."
* questionnaire 1..1 MS
* status MS
* subject 1..1 MS
* subject only Reference(JiayiResidentPatient)
* authored 1..1 MS
* basedOn MS
* item 1..* MS

Profile: JiayiIndicator
Parent: Measure
Id: jiayi-indicator
Title: "签约服务指标 Indicator (Measure)"
Description: "An indicator of the family-doctor programme evaluated with $evaluate-measure: signing coverage of the whole population and of key populations (每年提升1个百分点, 粤 一), fulfilment (履约率), satisfaction (目标85%), push compliance (≥12 pushes a year with ≥1 personalised, 一(三); 粤(三)). Proportion scoring, with initial population, denominator and numerator described in text and FHIRPath."
* url 1..1 MS
* name 1..1 MS
* title 1..1 MS
* status MS
* description 1..1 MS
* scoring 1..1 MS
* improvementNotation 1..1 MS
* group 1..* MS
* group.population 1..* MS
* group.population.code 1..1 MS
* group.population.criteria MS

Profile: JiayiIndicatorReport
Parent: MeasureReport
Id: jiayi-indicator-report
Title: "指标报告 Indicator report (MeasureReport)"
Description: "The result of an indicator for a period and a subject (a resident, a team, an institution or an area): population counts and the measure score."
* measure 1..1 MS
* status MS
* type MS
* period MS
* reporter MS
* group 1..* MS
* group.population.count 1..1 MS

Profile: JiayiHealthPointsAccount
Parent: Account
Id: jiayi-health-points-account
Title: "健康积分账户 Health-points account (Account)"
Description: "A signed resident's health-points account (健康行为积分, 一(九); 粤(九)). Mapping: the Account is the ledger header (subject the resident, owner the institution running the scheme, servicePeriod the scheme year); each earning, redemption or reversal is an immutable JiayiHealthPointsEntry (Basic) pointing to it. Why not ChargeItem: points are not money and are not billed; ChargeItem's workflow (billable/billed, price overrides, accounting to Account) would misstate them. Why not an Account balance only: R4 Account has none and the policy needs a traceable history of why points were earned. The points-balance extension is a cached sum for display."
* status MS
* type 1..1 MS
* type.text 1..1
* name 1..1 MS
* subject 1..1 MS
* subject only Reference(JiayiResidentPatient)
* owner 1..1 MS
* owner only Reference(JiayiOrganization)
* servicePeriod MS
* extension contains PointsBalance named balance 0..1 MS

Profile: JiayiHealthPointsEntry
Parent: Basic
Id: jiayi-health-points-entry
Title: "健康积分流水 Health-points ledger entry (Basic)"
Description: "One immutable entry of a health-points ledger: points earned by taking part in health education, check-ups or chronic-disease follow-ups, or redeemed for health services (检查检验服务、中医适宜技术、健康管理工具, 一(九); 粤(九)). Basic (code basic-resource-type#account) carries the entry because no R4 resource is a points ledger line (see JiayiHealthPointsAccount). Entries are never updated: a correction is a new entry with negative points whose points-source.reverses names the entry corrected."
* code = $basic-type#account
* subject 1..1 MS
* subject only Reference(JiayiResidentPatient)
* created 1..1 MS
* author MS
* extension contains
    PointsLedgerAccount named account 1..1 MS and
    PointsAmount named points 1..1 MS and
    PointsSource named source 1..1 MS
* obeys jy-points-source

Invariant: jy-points-source
Description: "积分流水须说明来源：所得服务、兑换项目或冲正的流水 An entry names what earned it, what it redeemed or which entry it reverses"
Expression: "extension('https://jiayi.health/fhir/StructureDefinition/points-source').extension.exists()"
Severity: #error
