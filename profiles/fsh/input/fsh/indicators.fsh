// The programme's indicators (Measure, https://jiayi.health/fhir/Measure/<id>) and naming systems.

RuleSet: Indicator(id, name, title)
* url = "https://jiayi.health/fhir/Measure/{id}"
* version = "0.1.0"
* name = "{name}"
* title = "{title}"
* status = #active
* experimental = false
* publisher = "Jiayi"
* scoring = $measure-scoring#proportion
* type = $measure-type#outcome
* improvementNotation = $improvement#increase

Instance: signing-coverage
InstanceOf: JiayiIndicator
Usage: #definition
* insert Indicator(signing-coverage, SigningCoverage, [[签约服务覆盖率 Signing coverage]])
* description = "Share of residents of an area with an executed contract on the last day of the period, for the whole population and per key population (粤 一: 以地市为单位全人群和重点人群签约服务覆盖率每年提升1个百分点). Stratified by key-population code."
* group.population[0].code = $measure-pop#initial-population
* group.population[0].criteria.language = #text/plain
* group.population[0].criteria.expression = "户籍或常住居民 Residents of the area (Patient with a home address division code in the area)"
* group.population[1].code = $measure-pop#denominator
* group.population[1].criteria.language = #text/plain
* group.population[1].criteria.expression = "Initial population"
* group.population[2].code = $measure-pop#numerator
* group.population[2].criteria.language = #text/plain
* group.population[2].criteria.expression = "Residents with a Contract status executed whose applies covers the period end"
* group.stratifier.code.text = "重点人群 Key population"
* group.stratifier.criteria.language = #text/plain
* group.stratifier.criteria.expression = "key-population code derived from the record (INTERFACE.md)"

Instance: fulfilment
InstanceOf: JiayiIndicator
Usage: #definition
* insert Indicator(fulfilment, Fulfilment, [[履约率 Fulfilment]])
* description = "Share of the services scheduled in residents' CarePlans (activity.detail per service item) for the period that were delivered (resources basedOn the CarePlan with the activity's code) (粤 三: 确保签约真实、履约务实). Items the resident did not use are not counted as unfulfilled (附件2 门诊服务 服务要求)."
* group.population[0].code = $measure-pop#initial-population
* group.population[0].criteria.language = #text/plain
* group.population[0].criteria.expression = "Scheduled activities of active CarePlans due in the period"
* group.population[1].code = $measure-pop#denominator
* group.population[1].criteria.language = #text/plain
* group.population[1].criteria.expression = "Initial population, excluding on-demand items not requested"
* group.population[2].code = $measure-pop#numerator
* group.population[2].criteria.language = #text/plain
* group.population[2].criteria.expression = "Activities with a delivered service basedOn the CarePlan"

Instance: satisfaction-indicator
InstanceOf: JiayiIndicator
Usage: #definition
* id = "satisfaction"
* insert Indicator(satisfaction, Satisfaction, [[签约居民满意度 Satisfaction]])
* description = "Share of answered satisfaction questionnaires (Questionnaire/satisfaction) whose overall score is 4 or 5; target about 85 % by 2027 (粤 一)."
* group.population[0].code = $measure-pop#initial-population
* group.population[0].criteria.language = #text/plain
* group.population[0].criteria.expression = "Completed QuestionnaireResponses to Questionnaire/satisfaction authored in the period"
* group.population[1].code = $measure-pop#denominator
* group.population[1].criteria.language = #text/plain
* group.population[1].criteria.expression = "Initial population with an answer to item overall other than 不清楚"
* group.population[2].code = $measure-pop#numerator
* group.population[2].criteria.language = #text/plain
* group.population[2].criteria.expression = "Denominator with overall answer 4 or 5"

Instance: push-compliance
InstanceOf: JiayiIndicator
Usage: #definition
* insert Indicator(push-compliance, PushCompliance, [[健康信息推送达标率 Push compliance]])
* description = "Share of signed residents who received at least 12 health pushes in the year, at least one of them personalised (一(三): 每年为签约居民推送不少于12次健康信息; 粤(三): 其中每年至少包含1次个性化健康指导). Residents who opted out of every channel are reported as exceptions with the reason."
* group.population[0].code = $measure-pop#initial-population
* group.population[0].criteria.language = #text/plain
* group.population[0].criteria.expression = "Residents with an executed Contract during the period"
* group.population[1].code = $measure-pop#denominator
* group.population[1].criteria.language = #text/plain
* group.population[1].criteria.expression = "Initial population"
* group.population[2].code = $measure-pop#denominator-exception
* group.population[2].criteria.language = #text/plain
* group.population[2].criteria.expression = "Residents whose Consent denies every push channel"
* group.population[3].code = $measure-pop#numerator
* group.population[3].criteria.language = #text/plain
* group.population[3].criteria.expression = "Residents with ≥ 12 completed push Communications in the period, ≥ 1 with push-kind personalised"

Instance: resident-id-number
InstanceOf: NamingSystem
Usage: #definition
* name = "ResidentIdNumber"
* status = #active
* kind = #identifier
* date = "2025-07-30"
* publisher = "Jiayi"
* responsible = "公安部 Ministry of Public Security"
* type = http://terminology.hl7.org/CodeSystem/v2-0203#NI "National unique individual identifier"
* description = "居民身份证号码 Chinese resident ID number (GB 11643-1999, 18 characters, ISO 7064 MOD 11-2 check digit). The guide's system is urn:oid:2.16.156.10011.1.3; HL7 China's connectathon system urn:oid:2.16.840.1.113883.2.23.1.19.1 is accepted as an equivalent (INTERFACE.md)."
* jurisdiction = urn:iso:std:iso:3166#CN "China"
* uniqueId[0].type = #oid
* uniqueId[0].value = "2.16.156.10011.1.3"
* uniqueId[0].preferred = true
* uniqueId[1].type = #uri
* uniqueId[1].value = "urn:oid:2.16.156.10011.1.3"
* uniqueId[2].type = #oid
* uniqueId[2].value = "2.16.840.1.113883.2.23.1.19.1"
* uniqueId[2].preferred = false
* uniqueId[2].comment = "HL7 China connectathon system, equivalent"
* uniqueId[3].type = #uri
* uniqueId[3].value = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
* uniqueId[3].preferred = false

Instance: health-record-number
InstanceOf: NamingSystem
Usage: #definition
* name = "HealthRecordNumber"
* status = #active
* kind = #identifier
* date = "2025-07-30"
* publisher = "Jiayi"
* description = "健康档案编号 Resident health-record number of the regional health-record store (WS 365 document standards OID)."
* jurisdiction = urn:iso:std:iso:3166#CN "China"
* uniqueId[0].type = #oid
* uniqueId[0].value = "2.16.156.10011.1.2"
* uniqueId[0].preferred = true
* uniqueId[1].type = #uri
* uniqueId[1].value = "urn:oid:2.16.156.10011.1.2"

Instance: practice-certificate
InstanceOf: NamingSystem
Usage: #definition
* name = "PracticeCertificate"
* status = #active
* kind = #identifier
* date = "2025-07-30"
* publisher = "Jiayi"
* description = "医师执业证书编码 Number of a physician's practice certificate, as used in Practitioner.qualification (JiayiPractitioner)."
* jurisdiction = urn:iso:std:iso:3166#CN "China"
* uniqueId.type = #uri
* uniqueId.value = "https://jiayi.health/fhir/sid/practice-certificate"
* uniqueId.preferred = true
