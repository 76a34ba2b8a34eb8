// Example instances: institutions, practitioners and teams of Panyu district, Guangzhou (番禺区 440113).

Instance: example-medical-group
InstanceOf: JiayiOrganization
Title: "番禺区紧密型城市医疗集团"
Usage: #example
* active = true
* type = http://terminology.hl7.org/CodeSystem/organization-type#other "Other"
* type.text = "紧密型城市医疗集团"
* name = "广州市番禺区中心医院医疗集团"
* extension[consortiumLead].valueReference = Reference(example-leading-hospital)
* address.text = "广东省广州市番禺区"
* address.state = "广东省"
* address.city = "广州市"
* address.district = "番禺区"
* address.extension[divisionCode].valueCode = #440113

Instance: example-leading-hospital
InstanceOf: JiayiOrganization
Title: "番禺区中心医院（牵头医院）"
Usage: #example
* active = true
* identifier.system = "https://jiayi.health/fhir/sid/uscc"
* identifier.value = "12440113455350543A"
* type = $inst#medical-group-lead "紧密型城市医疗集团牵头医院"
* type[+] = $inst#level-3-hospital "三级医院"
* name = "广州市番禺区中心医院"
* telecom.system = #phone
* telecom.value = "020-34858888"
* address.line = "桥南街福愉东路8号"
* address.state = "广东省"
* address.city = "广州市"
* address.district = "番禺区"
* address.extension[divisionCode].valueCode = #440113
* partOf = Reference(example-medical-group)

Instance: example-community-centre
InstanceOf: JiayiOrganization
Title: "市桥街社区卫生服务中心"
Usage: #example
* active = true
* type = $inst#community-health-centre "社区卫生服务中心"
* name = "广州市番禺区市桥街社区卫生服务中心"
* telecom.system = #phone
* telecom.value = "020-84829120"
* address.line = "市桥街西丽南路23号"
* address.state = "广东省"
* address.city = "广州市"
* address.district = "番禺区"
* address.extension[divisionCode].valueCode = #440113
* partOf = Reference(example-medical-group)

Instance: example-private-clinic
InstanceOf: JiayiOrganization
Title: "社会办诊所"
Usage: #example
* active = true
* type = $inst#non-government "社会办（非政府办）医疗卫生机构"
* type[+] = $inst#clinic "诊所/门诊部"
* name = "广州番禺康宁全科诊所"
* address.city = "广州市"
* address.district = "番禺区"
* address.extension[divisionCode].valueCode = #440113

Instance: example-dr-huang
InstanceOf: JiayiPractitioner
Title: "黄丽娟（全科医生）"
Usage: #example
* name.text = "黄丽娟"
* name.family = "黄"
* name.given = "丽娟"
* gender = #female
* telecom.system = #phone
* telecom.value = "13802761234"
* qualification[practiceCertificate].identifier.value = "110440113000521"
* qualification[practiceCertificate].code.text = "医师执业证书（全科医学专业）"
* qualification[practiceCertificate].issuer.display = "广州市番禺区卫生健康局"
* extension[practiceSite][0].extension[organization].valueReference = Reference(example-community-centre)
* extension[practiceSite][0].extension[principal].valueBoolean = true

Instance: example-dr-liang
InstanceOf: JiayiPractitioner
Title: "梁志明（下沉心内科医生，多点执业）"
Usage: #example
* name.text = "梁志明"
* name.family = "梁"
* name.given = "志明"
* gender = #male
* qualification[practiceCertificate].identifier.value = "110440113000877"
* qualification[practiceCertificate].code.text = "医师执业证书（内科专业）"
* extension[practiceSite][0].extension[organization].valueReference = Reference(example-leading-hospital)
* extension[practiceSite][0].extension[principal].valueBoolean = true
* extension[practiceSite][1].extension[organization].valueReference = Reference(example-community-centre)
* extension[practiceSite][1].extension[principal].valueBoolean = false
* extension[practiceSite][1].extension[period].valuePeriod.start = "2026-01-01"

Instance: example-nurse-he
InstanceOf: JiayiPractitioner
Title: "何敏（社区护士）"
Usage: #example
* name.text = "何敏"
* gender = #female

Instance: example-role-huang
InstanceOf: JiayiPractitionerRole
Title: "黄丽娟 @ 市桥街社区卫生服务中心（团队长）"
Usage: #example
* active = true
* practitioner = Reference(example-dr-huang)
* organization = Reference(example-community-centre)
* code = $role#team-leader "团队长"
* code[+] = $role#general-practitioner "全科医生"
* specialty.text = "慢病管理、老年健康"
* location = Reference(example-service-area)
* healthcareService = Reference(example-notice-xili)
* availableTime.daysOfWeek[0] = #mon
* availableTime.daysOfWeek[1] = #tue
* availableTime.daysOfWeek[2] = #wed
* availableTime.daysOfWeek[3] = #thu
* availableTime.daysOfWeek[4] = #fri
* availableTime.availableStartTime = "08:00:00"
* availableTime.availableEndTime = "17:30:00"

Instance: example-role-liang
InstanceOf: JiayiPractitionerRole
Title: "梁志明 @ 市桥街社区卫生服务中心（下沉医生）"
Usage: #example
* active = true
* practitioner = Reference(example-dr-liang)
* organization = Reference(example-community-centre)
* code = $role#sinking-doctor "下沉医生"
* code[+] = $role#specialist "专科医生"
* specialty = $sct#394579002 "Cardiology"
* specialty.text = "心血管内科"
* extension[sinkingFrom].valueReference = Reference(example-leading-hospital)
* availableTime.daysOfWeek = #thu
* availableTime.availableStartTime = "08:30:00"
* availableTime.availableEndTime = "12:00:00"

Instance: example-role-he
InstanceOf: JiayiPractitionerRole
Title: "何敏 @ 市桥街社区卫生服务中心（护士）"
Usage: #example
* practitioner = Reference(example-nurse-he)
* organization = Reference(example-community-centre)
* code = $role#nurse "护士"

Instance: example-team-huang
InstanceOf: JiayiFamilyDoctorTeam
Title: "黄丽娟家庭医生团队"
Usage: #example
* status = #active
* name = "市桥街西丽社区黄丽娟家庭医生团队"
* participant[0].role = $role#team-leader "团队长"
* participant[0].member = Reference(example-role-huang)
* participant[1].role = $role#sinking-doctor "下沉医生"
* participant[1].member = Reference(example-role-liang)
* participant[2].role = $role#nurse "护士"
* participant[2].member = Reference(example-role-he)
* managingOrganization = Reference(example-community-centre)
* telecom.system = #phone
* telecom.value = "020-84829121"

Instance: example-service-area
InstanceOf: JiayiLocation
Title: "西丽社区责任区域"
Usage: #example
* status = #active
* name = "市桥街西丽社区家庭医生责任区域"
* mode = #instance
* physicalType = http://terminology.hl7.org/CodeSystem/location-physical-type#area "Area"
* address.city = "广州市"
* address.district = "番禺区"
* address.extension[divisionCode].valueCode = #440113
* address.extension[communityUnit].extension[committee].valueString = "西丽社区居委会"
* managingOrganization = Reference(example-community-centre)
* extension[boundary].valueAttachment.contentType = #application/geo+json
* extension[boundary].valueAttachment.data = "eyJ0eXBlIjoiUG9seWdvbiIsImNvb3JkaW5hdGVzIjpbW1sxMTMuMzU4LDIyLjkzOF0sWzExMy4zNjgsMjIuOTM4XSxbMTEzLjM2OCwyMi45NDZdLFsxMTMuMzU4LDIyLjk0Nl0sWzExMy4zNTgsMjIuOTM4XV1dfQ=="

Instance: example-mobile-point
InstanceOf: JiayiLocation
Title: "流动医疗点（星河湾小区）"
Usage: #example
* status = #active
* name = "西丽社区流动医疗点（每周三上午）"
* mode = #instance
* extension[mobilePoint].valueBoolean = true
* type[setting] = $setting#community "社区"
* position.longitude = 113.3632
* position.latitude = 22.9415
* managingOrganization = Reference(example-community-centre)

Instance: example-notice-xili
InstanceOf: JiayiHealthcareService
Title: "西丽社区家庭医生签约服务公示"
Usage: #example
* active = true
* providedBy = Reference(example-community-centre)
* name = "西丽社区家庭医生签约服务"
* comment = "责任团队：黄丽娟家庭医生团队；签约可到中心现场、粤健通线上或社区集中签约活动办理。"
* location = Reference(example-mobile-point)
* coverageArea = Reference(example-service-area)
* telecom.system = #phone
* telecom.value = "020-84829121"
* availableTime.daysOfWeek[0] = #mon
* availableTime.daysOfWeek[1] = #tue
* availableTime.daysOfWeek[2] = #wed
* availableTime.daysOfWeek[3] = #thu
* availableTime.daysOfWeek[4] = #fri
* availableTime.availableStartTime = "08:00:00"
* availableTime.availableEndTime = "17:30:00"
* extension[signingChannel][0].valueCoding = $channel#on-site "机构现场签约"
* extension[signingChannel][1].valueCoding = $channel#online "线上签约"
* extension[signingChannel][2].valueCoding = $channel#community-event "社区集中签约活动"
* extension[publicityDay].valueCoding = $pubday#world-family-doctor-day "世界家庭医生日"
