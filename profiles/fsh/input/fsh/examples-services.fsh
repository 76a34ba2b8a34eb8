// Example instances: pushes, referral with a reserved slot, long-term prescription, measurements,
// satisfaction, indicator report and health points.

Instance: example-push-bailu
InstanceOf: JiayiHealthPush
Title: "白露节气健康提醒（个性化）"
Usage: #example
* status = #completed
* category[topic][0] = $topic#chronic-disease "慢性病防控"
* category[topic][1] = $topic#three-reductions "三减"
* category[kind] = $push-kind#personalised "个性化健康指导"
* priority = #routine
* medium = http://terminology.hl7.org/CodeSystem/v3-ParticipationMode#ONLINEWRIT "online written"
* subject = Reference(example-chen-guoqiang)
* recipient = Reference(example-chen-guoqiang)
* basedOn = Reference(example-careplan-chen)
* sent = "2026-09-07T09:00:00+08:00"
* payload.contentString = "陈伯您好：白露过后早晚温差变大，请注意保暖，按时服用降压药，每天测量血压并记录；饮食少盐少油，每日食盐不超过5克。如有头晕头痛请及时联系黄医生团队（020-84829121）。"
* extension[solarTerm].valueCodeableConcept = $solar#bailu "白露"

Instance: example-referral-up
InstanceOf: JiayiReferral
Title: "上转：心内科专家门诊（优先预约）"
Usage: #example
* status = #active
* intent = #order
* category[direction] = $direction#up "上转"
* code = $sct#3457005 "Patient referral"
* subject = Reference(example-chen-guoqiang)
* authoredOn = "2026-03-02T10:00:00+08:00"
* requester = Reference(example-role-huang)
* performer = Reference(example-leading-hospital)
* reasonCode = $icd10#I10 "原发性高血压"
* reasonCode.text = "血压控制不佳，需专科评估"
* supportingInfo = Reference(example-family-contract)
* extension[threePriorities].valueCodeableConcept = $priority#appointment "优先预约就诊"

Instance: example-referral-task
InstanceOf: JiayiReferralTask
Title: "番禺区中心医院接收转诊"
Usage: #example
* status = #accepted
* intent = #order
* focus = Reference(example-referral-up)
* for = Reference(example-chen-guoqiang)
* owner = Reference(example-leading-hospital)
* authoredOn = "2026-03-02T10:05:00+08:00"

Instance: example-cardiology-clinic
InstanceOf: HealthcareService
Title: "番禺区中心医院心血管内科专家门诊"
Usage: #example
* active = true
* providedBy = Reference(example-leading-hospital)
* name = "心血管内科专家门诊"
* specialty = $sct#394579002 "Cardiology"

Instance: example-cardiology-schedule
InstanceOf: JiayiReferralSchedule
Title: "心内科专家门诊排班（预留20%）"
Usage: #example
* active = true
* specialty = $sct#394579002 "Cardiology"
* actor = Reference(example-cardiology-clinic)
* planningHorizon.start = "2026-03-01T00:00:00+08:00"
* planningHorizon.end = "2026-03-31T23:59:59+08:00"
* comment = "心血管内科专家门诊，20%号源预留给家庭医生转诊的签约居民"
* extension[reservedShare].valueDecimal = 0.2

Instance: example-reserved-slot
InstanceOf: JiayiReservedSlot
Title: "转诊预留号源 2026-03-05 09:00"
Usage: #example
* meta.tag[referral] = $slot-res#referral "转诊预留号源"
* schedule = Reference(example-cardiology-schedule)
* status = #busy
* start = "2026-03-05T09:00:00+08:00"
* end = "2026-03-05T09:15:00+08:00"

Instance: example-referral-appointment
InstanceOf: JiayiReferralAppointment
Title: "转诊预约：心内科专家门诊"
Usage: #example
* status = #booked
* slot = Reference(example-reserved-slot)
* basedOn = Reference(example-referral-up)
* start = "2026-03-05T09:00:00+08:00"
* end = "2026-03-05T09:15:00+08:00"
* participant[0].actor = Reference(example-chen-guoqiang)
* participant[0].status = #accepted

Instance: example-long-term-rx
InstanceOf: JiayiLongTermPrescription
Title: "长期处方：氨氯地平 12周"
Usage: #example
* status = #active
* intent = #order
* medicationCodeableConcept.text = "苯磺酸氨氯地平片 5mg"
* subject = Reference(example-chen-guoqiang)
* authoredOn = "2026-03-20"
* requester = Reference(example-role-huang)
* reasonCode = $icd10#I10 "原发性高血压"
* courseOfTherapyType = http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy#continuous "Continuous long term therapy"
* dosageInstruction.text = "每日1次，每次1片，口服"
* dispenseRequest.quantity.value = 84
* dispenseRequest.quantity.unit = "片"
* dispenseRequest.expectedSupplyDuration = 12 'wk' "周"
* extension[conditionStable].valueBoolean = true

RuleSet: MeasuredBy
* status = #final
* subject = Reference(example-chen-guoqiang)
* effectiveDateTime = "2026-05-19T09:30:00+08:00"
* performer = Reference(example-role-he)
* basedOn = Reference(example-careplan-chen)

Instance: example-weight
InstanceOf: JiayiBodyWeight
Title: "体重 72.5 kg"
Usage: #example
* insert MeasuredBy
* valueQuantity = 72.5 'kg' "kg"

Instance: example-height
InstanceOf: JiayiBodyHeight
Title: "身高 168 cm"
Usage: #example
* insert MeasuredBy
* valueQuantity = 168 'cm' "cm"

Instance: example-bmi
InstanceOf: JiayiBmi
Title: "BMI 25.7"
Usage: #example
* insert MeasuredBy
* valueQuantity = 25.7 'kg/m2' "kg/m2"
* derivedFrom[0] = Reference(example-weight)
* derivedFrom[1] = Reference(example-height)

Instance: example-waist
InstanceOf: JiayiWaistCircumference
Title: "腰围 92 cm"
Usage: #example
* insert MeasuredBy
* code.coding[waistLoinc] = $loinc#8280-0 "Waist Circumference at umbilicus by Tape measure"
* code.text = "腰围"
* valueQuantity = 92 'cm' "cm"

Instance: example-blood-pressure
InstanceOf: JiayiBloodPressure
Title: "血压 146/92 mmHg"
Usage: #example
* insert MeasuredBy
* component[SystolicBP].valueQuantity = 146 'mm[Hg]' "mmHg"
* component[DiastolicBP].valueQuantity = 92 'mm[Hg]' "mmHg"

Instance: example-glucose
InstanceOf: JiayiBloodGlucose
Title: "空腹血糖 6.2 mmol/L"
Usage: #example
* insert MeasuredBy
* code = $loinc#14771-0 "Fasting glucose [Moles/volume] in Serum or Plasma"
* code.text = "空腹血糖"
* valueQuantity = 6.2 'mmol/L' "mmol/L"

Instance: satisfaction
InstanceOf: JiayiSatisfactionSurvey
Title: "家庭医生签约服务满意度调查"
Usage: #definition
* url = "https://jiayi.health/fhir/Questionnaire/satisfaction"
* version = "0.1.0"
* name = "Satisfaction"
* title = "家庭医生签约服务满意度调查"
* status = #active
* subjectType = #Patient
* description = "Signed residents' satisfaction with family-doctor services (粤 一: 签约居民满意度达到85%左右). Scores 1–5; 4 and 5 count as satisfied in the satisfaction indicator."
* item[0].linkId = "overall"
* item[0].text = "您对家庭医生签约服务的总体满意程度？"
* item[0].type = #choice
* item[0].required = true
* item[0].answerOption[0].valueCoding = http://terminology.hl7.org/CodeSystem/v3-NullFlavor#UNK
* item[0].answerOption[0].valueCoding.display = "不清楚"
* item[0].answerOption[1].valueInteger = 1
* item[0].answerOption[2].valueInteger = 2
* item[0].answerOption[3].valueInteger = 3
* item[0].answerOption[4].valueInteger = 4
* item[0].answerOption[5].valueInteger = 5
* item[1].linkId = "contact"
* item[1].text = "需要时能否及时联系到您的家庭医生（团队）？"
* item[1].type = #boolean
* item[2].linkId = "pushes"
* item[2].text = "过去一年是否收到家庭医生推送的健康信息？"
* item[2].type = #boolean
* item[3].linkId = "comment"
* item[3].text = "意见和建议"
* item[3].type = #text

Instance: example-satisfaction-response
InstanceOf: JiayiSatisfactionResponse
Title: "陈国强满意度答卷"
Usage: #example
* questionnaire = "https://jiayi.health/fhir/Questionnaire/satisfaction"
* status = #completed
* subject = Reference(example-chen-guoqiang)
* authored = "2026-12-01T15:00:00+08:00"
* basedOn = Reference(example-careplan-chen)
* item[0].linkId = "overall"
* item[0].answer.valueInteger = 5
* item[1].linkId = "contact"
* item[1].answer.valueBoolean = true
* item[2].linkId = "pushes"
* item[2].answer.valueBoolean = true

Instance: example-coverage-report
InstanceOf: JiayiIndicatorReport
Title: "番禺区2026年全人群签约覆盖率"
Usage: #example
* status = #complete
* type = #summary
* measure = "https://jiayi.health/fhir/Measure/signing-coverage"
* date = "2027-01-10"
* period.start = "2026-01-01"
* period.end = "2026-12-31"
* reporter = Reference(example-community-centre)
* group.population[0].code = $measure-pop#initial-population
* group.population[0].count = 52340
* group.population[1].code = $measure-pop#denominator
* group.population[1].count = 52340
* group.population[2].code = $measure-pop#numerator
* group.population[2].count = 19887
* group.measureScore.value = 0.38

Instance: example-points-account
InstanceOf: JiayiHealthPointsAccount
Title: "陈国强健康积分账户"
Usage: #example
* status = #active
* type.text = "健康积分账户"
* name = "陈国强的健康积分"
* subject = Reference(example-chen-guoqiang)
* owner = Reference(example-community-centre)
* servicePeriod.start = "2026-01-01"
* servicePeriod.end = "2026-12-31"
* extension[balance].valueInteger = 20

Instance: example-points-earned
InstanceOf: JiayiHealthPointsEntry
Title: "积分：参加高血压随访 +30"
Usage: #example
* subject = Reference(example-chen-guoqiang)
* created = "2026-05-19"
* author = Reference(example-community-centre)
* extension[account].valueReference = Reference(example-points-account)
* extension[points].valueInteger = 30
* extension[source].extension[earnedBy].valueReference = Reference(example-blood-pressure)

Instance: example-points-redeemed
InstanceOf: JiayiHealthPointsEntry
Title: "积分兑换：中医适宜技术 -10"
Usage: #example
* subject = Reference(example-chen-guoqiang)
* created = "2026-06-02"
* author = Reference(example-community-centre)
* extension[account].valueReference = Reference(example-points-account)
* extension[points].valueInteger = -10
* extension[source].extension[redeemedFor].valueCodeableConcept = $item#kp-elderly-65.elderly-tcm "老年人中医药健康管理服务"
