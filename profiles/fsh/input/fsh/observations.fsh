// Observations of weight management (三高一重, 粤(七); 附件1 4: 体重、身高、腰围测量) and chronic-disease follow-up.
// Weight, height, BMI and blood pressure derive from the R4 vital-signs profiles; waist circumference from
// the vital-signs base; glucose is a laboratory result (capillary or venous).

RuleSet: ResidentObservation
* subject 1..1
* subject only Reference(JiayiResidentPatient)
* basedOn MS
* basedOn ^short = "The resident's CarePlan (counts towards fulfilment)"
* performer MS

Profile: JiayiBodyWeight
Parent: http://hl7.org/fhir/StructureDefinition/bodyweight
Id: jiayi-body-weight
Title: "体重 Body weight"
Description: "Body weight in kg, measured for weight management (附件1 基本公卫服务包 4; 粤(五) 五个一: 一次体重腰围测量; 粤(七) 三高一重). R4 vital-signs body weight with UCUM kg."
* insert ResidentObservation
* valueQuantity.code = #kg

Profile: JiayiBodyHeight
Parent: http://hl7.org/fhir/StructureDefinition/bodyheight
Id: jiayi-body-height
Title: "身高 Body height"
Description: "Body height in cm (附件1 4: 身高测量), needed for BMI. R4 vital-signs body height with UCUM cm."
* insert ResidentObservation
* valueQuantity.code = #cm

Profile: JiayiBmi
Parent: http://hl7.org/fhir/StructureDefinition/bmi
Id: jiayi-bmi
Title: "体重指数 BMI"
Description: "Body-mass index in kg/m2; overweight and obesity (超重肥胖, BMI ≥ 24 / ≥ 28 by the Chinese criteria) are one of 三高一重 (粤(七)). derivedFrom the weight and height observations."
* insert ResidentObservation
* derivedFrom MS

Profile: JiayiWaistCircumference
Parent: http://hl7.org/fhir/StructureDefinition/vitalsigns
Id: jiayi-waist-circumference
Title: "腰围 Waist circumference"
Description: "Waist circumference in cm (附件1 4: 腰围测量; 粤(五): 一次体重腰围测量); central obesity marker for weight management. On the R4 vital-signs base with LOINC 8280-0."
* insert ResidentObservation
* code.coding ^slicing.discriminator.type = #value
* code.coding ^slicing.discriminator.path = "code"
* code.coding ^slicing.rules = #open
* code.coding contains waistLoinc 1..1
* code.coding[waistLoinc].system 1..1
* code.coding[waistLoinc].system = "http://loinc.org" (exactly)
* code.coding[waistLoinc].code 1..1
* code.coding[waistLoinc].code = #8280-0 (exactly)
* value[x] only Quantity
* valueQuantity 1..1
* valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* valueQuantity.code = #cm (exactly)
* valueQuantity.value 1..1

Profile: JiayiBloodPressure
Parent: http://hl7.org/fhir/StructureDefinition/bp
Id: jiayi-blood-pressure
Title: "血压 Blood pressure"
Description: "Systolic and diastolic blood pressure in mm[Hg] for hypertension screening and follow-up (附件2 高血压患者: 每年不少于4次面对面随访, 测量血压; 三高一重). R4 vital-signs blood pressure panel."
* insert ResidentObservation

Invariant: jy-glucose-code
Description: "血糖须用 LOINC 14749-6（血清/血浆）、14771-0（空腹）或 14743-9（指尖血）编码 Glucose is coded with LOINC 14749-6, 14771-0 or 14743-9"
Expression: "code.coding.where(system = 'http://loinc.org' and (code = '14749-6' or code = '14771-0' or code = '14743-9')).exists()"
Severity: #error

Profile: JiayiBloodGlucose
Parent: Observation
Id: jiayi-blood-glucose
Title: "血糖 Blood glucose"
Description: "Blood glucose in mmol/L (venous, fasting or capillary by glucometer) for type 2 diabetes screening and follow-up (附件2 2型糖尿病患者: 每年至少4次空腹血糖检测; 三高一重). A laboratory observation."
* insert ResidentObservation
* status MS
* category 1..*
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category contains laboratory 1..1
* category[laboratory] = $obs-cat#laboratory
* code MS
* obeys jy-glucose-code
* effective[x] 1..1 MS
* value[x] only Quantity
* valueQuantity 1..1 MS
* valueQuantity.value 1..1
* valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* valueQuantity.code = #mmol/L (exactly)
