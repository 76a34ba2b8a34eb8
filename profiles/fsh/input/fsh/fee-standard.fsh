// The fee-standard extension as FSH, for SUSHI only: SUSHI needs a snapshot to build instances that use
// it, and the JSON in profiles/extensions/StructureDefinition-fee-standard.json (written by
// scripts/build_service_packages.py) is differential-only.  scripts/place_profiles.py does not copy this
// compiled copy; tests/unit/ig/test_profiles.py checks that both differentials agree.

Extension: FeeStandard
Id: fee-standard
Title: "费用标准 Fee standard"
Description: "A fee standard of a service package or contract: an amount in CNY per resident and year, the funding source that pays it (CodeSystem funding-source), what it pays for and the rule it rests on. Several repetitions split a package's fee between funding sources; `part` lists what an amount includes, e.g. the 20-yuan basic public-health package includes 5.13 (health records), 4.38 (health education) and 10 (family-doctor signing fee) (附件1 备注2; 粤(八): 医保基金、基本公共卫生服务经费和个人付费等分担机制). The amount is absent where the annex leaves it to the cities."
Context: PlanDefinition, Contract, ActivityDefinition
* extension contains amount 0..1 and fundingSource 1..1 and component 0..1 and basis 0..1 and part 0..*
* extension[amount].value[x] only Money
* extension[fundingSource].value[x] only CodeableConcept
* extension[fundingSource].valueCodeableConcept from https://jiayi.health/fhir/ValueSet/funding-source (extensible)
* extension[component].value[x] only string
* extension[basis].value[x] only string
* extension[part].extension contains amount 1..1 and component 1..1
* extension[part].extension[amount].value[x] only Money
* extension[part].extension[component].value[x] only string
