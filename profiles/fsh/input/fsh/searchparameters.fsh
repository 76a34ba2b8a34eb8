// The guide's search parameters (https://jiayi.health/fhir/SearchParameter/<id>).

RuleSet: SearchParam(id, code, base, type, expression, description)
* url = "https://jiayi.health/fhir/SearchParameter/{id}"
* version = "0.1.0"
* name = "{code}"
* status = #active
* experimental = false
* publisher = "Jiayi"
* description = "{description}"
* code = #{code}
* base = #{base}
* type = #{type}
* expression = "{expression}"
* xpathUsage = #normal

Instance: contract-care-team
InstanceOf: SearchParameter
Title: "Contract?care-team="
Usage: #definition
* insert SearchParam(contract-care-team, care-team, Contract, reference, [[Contract.extension('https://jiayi.health/fhir/StructureDefinition/contract-care-team').value]], [[The family-doctor team of a contract (extension contract-care-team), e.g. Contract?care-team=CareTeam/7 lists a team's contracts.]])
* target = #CareTeam

Instance: contract-family
InstanceOf: SearchParameter
Title: "Contract?family="
Usage: #definition
* insert SearchParam(contract-family, family, Contract, reference, [[Contract.extension('https://jiayi.health/fhir/StructureDefinition/contract-family').value]], [[The family Group of a family contract (extension contract-family).]])
* target = #Group

Instance: contract-package
InstanceOf: SearchParameter
Title: "Contract?package="
Usage: #definition
* insert SearchParam(contract-package, package, Contract, reference, [[Contract.extension.where(url = 'https://jiayi.health/fhir/StructureDefinition/contract-package').value]], [[A service package (PlanDefinition canonical) the contract covers.]])
* target = #PlanDefinition

Instance: contract-signing-channel
InstanceOf: SearchParameter
Title: "Contract?signing-channel="
Usage: #definition
* insert SearchParam(contract-signing-channel, signing-channel, Contract, token, [[Contract.extension('https://jiayi.health/fhir/StructureDefinition/signing-channel').value]], [[How the contract was signed (signing-channel code), for signing counts by channel.]])

Instance: contract-termination-reason
InstanceOf: SearchParameter
Title: "Contract?termination-reason="
Usage: #definition
* insert SearchParam(contract-termination-reason, termination-reason, Contract, token, [[Contract.extension('https://jiayi.health/fhir/StructureDefinition/contract-termination-reason').value]], [[Why a terminated contract ended (contract-termination-reason code).]])

Instance: careplan-contract
InstanceOf: SearchParameter
Title: "CarePlan?contract="
Usage: #definition
* insert SearchParam(careplan-contract, contract, CarePlan, reference, [[CarePlan.supportingInfo.where(resolve() is Contract)]], [[The Contract a care plan fulfils (CarePlan.supportingInfo), e.g. CarePlan?contract=Contract/12.]])
* target = #Contract

Instance: patient-division
InstanceOf: SearchParameter
Title: "Patient?division="
Usage: #definition
* insert SearchParam(patient-division, division, Patient, token, [[Patient.address.extension('https://jiayi.health/fhir/StructureDefinition/division-code').value]], [[The GB/T 2260 division code of any of the resident's addresses, e.g. Patient?division=440113.]])

Instance: patient-household
InstanceOf: SearchParameter
Title: "Patient?household="
Usage: #definition
* insert SearchParam(patient-household, household, Patient, reference, [[Patient.extension('https://jiayi.health/fhir/StructureDefinition/family-membership').value]], [[The family Group (household) the resident belongs to (extension family-membership). Its code is not `family`: R4's Patient `family` (HumanName.family, a string) keeps its meaning.]])
* target = #Group

Instance: organization-division
InstanceOf: SearchParameter
Title: "Organization?division="
Usage: #definition
* insert SearchParam(organization-division, division, Organization, token, [[Organization.address.extension('https://jiayi.health/fhir/StructureDefinition/division-code').value]], [[The GB/T 2260 division code of the institution's address.]])

Instance: location-division
InstanceOf: SearchParameter
Title: "Location?division="
Usage: #definition
* insert SearchParam(location-division, division, Location, token, [[Location.address.extension('https://jiayi.health/fhir/StructureDefinition/division-code').value]], [[The GB/T 2260 division code of a location's address (service areas, medical points).]])

Instance: communication-push-kind
InstanceOf: SearchParameter
Title: "Communication?push-kind="
Usage: #definition
* insert SearchParam(communication-push-kind, push-kind, Communication, token, [[Communication.category.where(coding.system = 'https://jiayi.health/fhir/CodeSystem/push-kind')]], [[The kind of a health push (personalised, routine, alert); Communication?category= also matches it.]])

Instance: communication-topic
InstanceOf: SearchParameter
Title: "Communication?topic="
Usage: #definition
* insert SearchParam(communication-topic, topic, Communication, token, [[Communication.category.where(coding.system = 'https://jiayi.health/fhir/CodeSystem/push-topic')]], [[The topic of a health push (push-topic code).]])

Instance: communication-solar-term
InstanceOf: SearchParameter
Title: "Communication?solar-term="
Usage: #definition
* insert SearchParam(communication-solar-term, solar-term, Communication, token, [[Communication.extension('https://jiayi.health/fhir/StructureDefinition/solar-term').value]], [[The solar term a push is timed to.]])

Instance: practitionerrole-sinking-from
InstanceOf: SearchParameter
Title: "PractitionerRole?sinking-from="
Usage: #definition
* insert SearchParam(practitionerrole-sinking-from, sinking-from, PractitionerRole, reference, [[PractitionerRole.extension('https://jiayi.health/fhir/StructureDefinition/sinking-from').value]], [[The home hospital of a sinking doctor's post.]])
* target = #Organization

Instance: servicerequest-referral-priority
InstanceOf: SearchParameter
Title: "ServiceRequest?referral-priority="
Usage: #definition
* insert SearchParam(servicerequest-referral-priority, referral-priority, ServiceRequest, token, [[ServiceRequest.extension('https://jiayi.health/fhir/StructureDefinition/referral-priority').value]], [[Which of the three priorities a referral uses (appointment, examination, admission).]])

Instance: basic-points-account
InstanceOf: SearchParameter
Title: "Basic?points-account="
Usage: #definition
* insert SearchParam(basic-points-account, points-account, Basic, reference, [[Basic.extension('https://jiayi.health/fhir/StructureDefinition/points-ledger-account').value]], [[The health-points Account of a ledger entry.]])
* target = #Account

Instance: patient-key-population
InstanceOf: SearchParameter
Title: "Patient?key-population="
Usage: #definition
* url = "https://jiayi.health/fhir/SearchParameter/patient-key-population"
* version = "0.1.0"
* name = "key-population"
* status = #active
* experimental = false
* publisher = "Jiayi"
* description = "Residents in a key population (CodeSystem key-population), derived from the record as $key-populations derives it (terminology/key-population-rules.json): age from birthDate, active Conditions by ICD-10 category, a high-risk RiskAssessment at 40–70, an active Flag. Computed by the server (no FHIRPath expression): the rules are rewritten into birthdate and _has terms. A code or system|code; comma = any of the populations, repeating the parameter = all of them; modifiers are refused (400)."
* code = #key-population
* base[0] = #Patient
* base[1] = #Condition
* base[2] = #RiskAssessment
* base[3] = #Flag
* type = #token

Instance: flag-status
InstanceOf: SearchParameter
Title: "Flag?status="
Usage: #definition
* insert SearchParam(flag-status, status, Flag, token, [[Flag.status]], [[The status of a Flag (active, inactive, entered-in-error); R4 has no Flag status parameter. Used by Patient?key-population= (an active Flag declares a key population).]])

Instance: flag-code
InstanceOf: SearchParameter
Title: "Flag?code="
Usage: #definition
* insert SearchParam(flag-code, code, Flag, token, [[Flag.code]], [[The code of a Flag, e.g. Flag?code=https://jiayi.health/fhir/CodeSystem/key-population|disabled; R4 has no Flag code parameter. Used by Patient?key-population=.]])

Instance: riskassessment-status
InstanceOf: SearchParameter
Title: "RiskAssessment?status="
Usage: #definition
* insert SearchParam(riskassessment-status, status, RiskAssessment, token, [[RiskAssessment.status]], [[The status of a RiskAssessment (final, amended …); R4 has no RiskAssessment status parameter. Used by Patient?key-population=cancer-high-risk.]])
