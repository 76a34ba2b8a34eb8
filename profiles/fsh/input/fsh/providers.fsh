// Providers: Organization, Practitioner, PractitionerRole, CareTeam, Location, HealthcareService.

Profile: JiayiOrganization
Parent: Organization
Id: jiayi-organization
Title: "医疗卫生机构 Institution (Organization)"
Description: "A health institution taking part in family-doctor services: primary institutions (community health centres/stations, township health centres, village clinics), hospitals (a medical group's or county consortium's leading hospital, level-2/3 hospitals), internet hospitals and non-government (社会办) institutions, which may sign residents (一(八); 粤(八): 将…非政府办医疗卫生机构纳入签约服务实施范围). Membership of a close-knit medical group or county consortium is Organization.partOf → the group's Organization, whose consortium-lead extension names the leading hospital."
* identifier MS
* active MS
* type 1..* MS
* type from $inst-vs (extensible)
* name 1..1 MS
* telecom MS
* address MS
* address.extension contains DivisionCode named divisionCode 0..1 MS
* partOf MS
* partOf only Reference(JiayiOrganization)
* extension contains ConsortiumLead named consortiumLead 0..1 MS

Profile: JiayiPractitioner
Parent: Practitioner
Id: jiayi-practitioner
Title: "家庭医生/团队成员 Practitioner"
Description: "A doctor, nurse, public-health physician, pharmacist or other member of a family-doctor team. The practice certificate (医师执业证书) is a qualification with its number; registered practice sites, including multi-site practice (多点执业, 粤(二)), are multi-site-practice extensions, and each post is a PractitionerRole."
* name 1..* MS
* gender MS
* telecom MS
* qualification MS
* qualification ^slicing.discriminator.type = #value
* qualification ^slicing.discriminator.path = "identifier.system"
* qualification ^slicing.rules = #open
* qualification contains practiceCertificate 0..1 MS
* qualification[practiceCertificate] ^short = "医师执业证书 Practice certificate"
* qualification[practiceCertificate].identifier 1..1
* qualification[practiceCertificate].identifier.system 1..1
* qualification[practiceCertificate].identifier.system = $cert (exactly)
* qualification[practiceCertificate].identifier.value 1..1
* qualification[practiceCertificate].issuer MS
* extension contains MultiSitePractice named practiceSite 0..* MS

Profile: JiayiPractitionerRole
Parent: PractitionerRole
Id: jiayi-practitioner-role
Title: "执业岗位 Practitioner's post (PractitionerRole)"
Description: "A practitioner's post at an institution: role in the family-doctor team (care-team-role), specialties (专长, shown on the electronic family-doctor map, 一(一); 粤(一)), the institution, the service area (Location with its GeoJSON boundary), and working hours. A sinking doctor (下沉医生) from a leading or level-2/3 hospital practises at a primary institution: organization is the primary institution and sinking-from names the home hospital (一(二); 粤(二))."
* practitioner 1..1 MS
* practitioner only Reference(JiayiPractitioner)
* organization 1..1 MS
* organization only Reference(JiayiOrganization)
* code 1..* MS
* code from $role-vs (extensible)
* specialty MS
* location MS
* location only Reference(JiayiLocation)
* healthcareService only Reference(JiayiHealthcareService)
* telecom MS
* availableTime MS
* extension contains SinkingFrom named sinkingFrom 0..1 MS

Profile: JiayiFamilyDoctorTeam
Parent: CareTeam
Id: jiayi-family-doctor-team
Title: "家庭医生团队 Family-doctor team (CareTeam)"
Description: "A family-doctor team (家庭医生团队) at a primary institution: members are PractitionerRoles, the lead doctor (团队长) first, with roles from care-team-role (general practitioner, nurse, public-health physician, specialist, sinking doctor…). Category is LOINC LA28865-6 (longitudinal care-coordination focused care team), the HL7 care-team category that fits; managingOrganization is the primary institution (docs/DATA-MODEL.md)."
* status 1..1 MS
* category 1..* MS
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category contains familyDoctorTeam 1..1
* category[familyDoctorTeam] = $loinc#LA28865-6 "Longitudinal care-coordination focused care team"
* name 1..1 MS
* participant 1..* MS
* participant.role 1..* MS
* participant.role from $role-vs (extensible)
* participant.member 1..1 MS
* participant.member only Reference(JiayiPractitionerRole or JiayiPractitioner)
* managingOrganization 1..1 MS
* managingOrganization only Reference(JiayiOrganization)
* telecom MS
* subject 0..0
* subject ^short = "Not used: a team serves many residents through its contracts"

Profile: JiayiLocation
Parent: Location
Id: jiayi-location
Title: "服务地点/责任区域 Location: position, service area, medical point"
Description: "A place of service: an institution's site, a fixed or mobile medical point in a community (一(五); 粤(五): 固定或流动医疗点; mobile-point extension), or the service area (责任区域/负责片区) of a team or institution, whose boundary is a GeoJSON polygon in the core extension location-boundary-geojson (valueAttachment, contentType application/geo+json) for the electronic family-doctor map (一(一); 粤(一)). position holds the WGS84 coordinates of a point."
* name 1..1 MS
* mode MS
* type MS
* type ^slicing.discriminator.type = #value
* type ^slicing.discriminator.path = "coding.system"
* type ^slicing.rules = #open
* type ^slicing.description = "The functional community a medical point or signing venue serves, besides any other type"
* type contains setting 0..1 MS
* type[setting] ^short = "功能社区 The functional community served (五进/六进)"
* type[setting] ^definition = "The functional community (机关、企业、校园、社区、家庭、养老托育机构) where a fixed or mobile medical point or a community-signing venue serves residents (一(五) 五进; 粤(五) 六进)."
* type[setting].coding.system 1..1
* type[setting].coding.system = "https://jiayi.health/fhir/CodeSystem/community-setting" (exactly)
* type[setting] from $setting-vs (required)
* address MS
* address.extension contains DivisionCode named divisionCode 0..1 MS and CommunityUnit named communityUnit 0..1 MS
* position MS
* managingOrganization MS
* managingOrganization only Reference(JiayiOrganization)
* extension contains $geojson named boundary 0..1 MS and MobilePoint named mobilePoint 0..1 MS
* extension[boundary].valueAttachment.contentType = #application/geo+json
* obeys jy-location-geo

Invariant: jy-location-geo
Description: "服务区域需有边界或坐标 A location has a position or a service-area boundary or an address"
Expression: "position.exists() or extension('http://hl7.org/fhir/StructureDefinition/location-boundary-geojson').exists() or address.exists()"
Severity: #error

Profile: JiayiHealthcareService
Parent: HealthcareService
Id: jiayi-healthcare-service
Title: "签约服务公示 Public notice of family-doctor services (HealthcareService)"
Description: "What a community (居委/村委) is told about its family-doctor service: the signing institution (providedBy), its service area (location/coverageArea), contacts (telecom), hours (availableTime) and signing channels (signing-channel extension), kept up to date (一(一); 粤(一): 公示辖区内家庭医生的联系途径、服务时间与签约方式)."
* active MS
* providedBy 1..1 MS
* providedBy only Reference(JiayiOrganization)
* name 1..1 MS
* comment MS
* location MS
* location only Reference(JiayiLocation)
* coverageArea 1..* MS
* coverageArea only Reference(JiayiLocation)
* telecom 1..* MS
* availableTime 1..* MS
* extension contains SigningChannel named signingChannel 1..* MS
* extension contains PublicityDay named publicityDay 0..1 MS
