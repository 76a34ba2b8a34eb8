// Residents: Patient, RelatedPerson, family and self-management Groups.

Invariant: jy-gb11643
Description: "居民身份证号码须为18位且校验码符合 GB 11643 The resident ID number has 18 characters and a valid GB 11643 (ISO 7064 MOD 11-2) check digit"
Expression: "value.matches('^[0-9]{17}[0-9X]$') and value.substring(17,1) = ((12 - ((value.substring(0,1).toInteger()*7 + value.substring(1,1).toInteger()*9 + value.substring(2,1).toInteger()*10 + value.substring(3,1).toInteger()*5 + value.substring(4,1).toInteger()*8 + value.substring(5,1).toInteger()*4 + value.substring(6,1).toInteger()*2 + value.substring(7,1).toInteger()*1 + value.substring(8,1).toInteger()*6 + value.substring(9,1).toInteger()*3 + value.substring(10,1).toInteger()*7 + value.substring(11,1).toInteger()*9 + value.substring(12,1).toInteger()*10 + value.substring(13,1).toInteger()*5 + value.substring(14,1).toInteger()*8 + value.substring(15,1).toInteger()*4 + value.substring(16,1).toInteger()*2) mod 11)) mod 11).toString().replace('10','X')"
Severity: #error

Invariant: jy-division-digits
Description: "行政区划代码为6位数字 A division code is six digits"
Expression: "value.matches('^[0-9]{6}$')"
Severity: #error

RuleSet: ResidentIdentifiers
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "By identifier system"
* identifier contains residentId 0..1 MS and residentIdHl7China 0..1 and healthRecordNumber 0..1 MS
* identifier[residentId] ^short = "居民身份证号码 Resident ID number (GB 11643)"
* identifier[residentId].system 1..1
* identifier[residentId].system = $ric (exactly)
* identifier[residentId].value 1..1
* identifier[residentId] obeys jy-gb11643
* identifier[residentIdHl7China] ^short = "Resident ID number under HL7 China's connectathon system (equivalent, see NamingSystem resident-id-number)"
* identifier[residentIdHl7China].system 1..1
* identifier[residentIdHl7China].system = $ric-hl7cn (exactly)
* identifier[residentIdHl7China].value 1..1
* identifier[residentIdHl7China] obeys jy-gb11643

Profile: JiayiResidentPatient
Parent: Patient
Id: jiayi-patient
Title: "签约居民 Resident (Patient)"
Description: "A resident who signs or may sign a family-doctor contract. Identified by the resident ID number (居民身份证, GB 11643, check digit enforced by jy-gb11643, system urn:oid:2.16.156.10011.1.3) and the health-record number (健康档案编号, urn:oid:2.16.156.10011.1.2) of the open electronic health record (一(九); 粤(九)). The residence address carries the GB/T 2260 division code and the community/village unit by which institutions publish their service areas (一(一); 粤(一)). Family membership points to the family Group for family contracts (粤(五)). Key-population membership is derived from the record, not stored here (INTERFACE.md)."
* insert ResidentIdentifiers
* identifier 1..*
* identifier[healthRecordNumber] ^short = "健康档案编号 Health-record number"
* identifier[healthRecordNumber].system 1..1
* identifier[healthRecordNumber].system = $hrn (exactly)
* identifier[healthRecordNumber].value 1..1
* name 1..* MS
* name.text MS
* gender 1..1 MS
* birthDate 1..1 MS
* telecom MS
* address MS
* address.extension contains DivisionCode named divisionCode 0..1 MS and CommunityUnit named communityUnit 0..1 MS
* address.extension[divisionCode] obeys jy-division-digits
* extension contains FamilyMembership named family 0..1 MS
* obeys jy-residence-division

Invariant: jy-residence-division
Description: "居住地址（use=home）应带行政区划代码 A home address should carry its GB/T 2260 division code"
Expression: "address.where(use = 'home').all(extension('https://jiayi.health/fhir/StructureDefinition/division-code').exists())"
Severity: #warning

Profile: JiayiRelatedPerson
Parent: RelatedPerson
Id: jiayi-related-person
Title: "家属/监护人 Relative or guardian (RelatedPerson)"
Description: "A relative or guardian of a resident: signs on behalf of a child or an incapacitated resident (Contract.signer), is an emergency contact, or receives pushes for them. Same identifier rules as the resident."
* insert ResidentIdentifiers
* patient only Reference(JiayiResidentPatient)
* relationship 1..* MS
* relationship from http://hl7.org/fhir/ValueSet/relatedperson-relationshiptype (extensible)
* name 1..* MS
* telecom MS

Profile: JiayiFamily
Parent: Group
Id: jiayi-family
Title: "家庭 Family (Group)"
Description: "A family (household) that signs as a unit (一(一): 探索以家庭为单位开展签约; 粤(五): 以家庭为单元签订服务协议). Members are residents; each member's role and the head of household are in member.extension. A family contract names this Group in the contract-family extension and lists every member in Contract.subject."
* type = #person
* actual = true
* code 1..1
* code = $v3-role#FAMMEMB "family member"
* name 1..1 MS
* member 1..* MS
* member.entity only Reference(JiayiResidentPatient)
* member.extension contains FamilyRole named role 0..1 MS

Profile: JiayiSelfManagementGroup
Parent: Group
Id: jiayi-self-management-group
Title: "自我健康管理小组 Self-management group (Group)"
Description: "A self-management group of signed residents, supported online and offline by a family-doctor team (一(九): 鼓励组织签约居民建立自我健康管理小组; 粤(九)). managingEntity is the supporting team's organisation or practitioner role; characteristic names the key population or condition the group works on."
* type = #person
* actual = true
* code 1..1
* code ^short = "自我健康管理小组 (text)"
* name 1..1 MS
* managingEntity 1..1 MS
* managingEntity only Reference(JiayiOrganization or JiayiPractitionerRole)
* characteristic MS
* characteristic.code from $kp-vs (extensible)
* member.entity only Reference(JiayiResidentPatient)
