"""Example replies copied word for word from the providers' documents.

RedFlag: shared/provider-docs/redflag-recipient-api-endpoints.txt ("Success response
example" blocks). Snappy: snappy-*.txt (field examples and the error body quoted in
CONTRACT-NOTES). Parcelvoy: campaign-trigger-admin-api.txt and CONTRACT-NOTES.
"""

# REDFLAG_LIST_SUCCESS: redflag-recipient-api-endpoints.txt line 62
REDFLAG_LIST_SUCCESS = r"""{
"success":true,
"data":[
{
"_id": "60f4aeb09279e27183c0a9da",
"aDate": "2021-07-18T22:44:00.989Z",
"mDate": "2024-04-29T01:52:26.962Z",
"email": "john@communic8.com",
"active": true,
"registered": true,
"suppressed": false,
"firstName": "John",
"lastName": "Smith",
"displayName": "John Smith",
"formalName": "John Smith",
"mobile": "",
"phone": "",
"country": "",
"fax": "",
"phoneCountry": "",
"faxCountry": "",
"mobileCountry": "",
"phoneFull": "",
"faxFull": "",
"mobileFull": "",
"nameIsUnicode": false,
"mobileSendable": false,
"photoFileId": "62a299850049992e5b91c106",
"tags": [
{
"key": "z_customField",
"value": "Foo",
"_id": "630469fd98ed1f21a621a4e6"
}
],
"agreementLog": {
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"history": [
{
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"_id": "5f2ca8e101579077b3594f96"
}
]
},
"agreement": {
"history": []
},
"lastAccessDate": "2024-05-13T05:27:34.702Z",
"allowEmail": true,
"allowSms": false,
"allowCommentReplyMobileNotify": true,
"skills": [],
"availability": [],
"exclusive": false,
"sharedUsers": [],
"sharedGroups": [],
"status": "99",
"ownerId": "60f4aeb09279e27183c0a9da",
"sfReportsToUserIds": [],
"followingIds": [
"635b559a1da40d7f27ea0f14"
],
"reportsTo": [],
"supports": [],
"supportedBy": [
"6205aeba97496a2c8e880d91"
],
"education": [],
"employment": [],
"certification": [],
"notes": [],
"contactMeCount": 4,
"appPermission": true,
"appPermissionIndex": "20230117171101",
"online": true,
"timezone": "Australia/Brisbane",
"admin": true,
"activeConsole": true,
"onlineConsole": true,
"lastAccessDateConsole": "2024-01-22T01:31:31.952Z",
"legacyPbUserId": "5f2ca7e0ff6d3377ce1743d2",
"clientAgreementLog": {
"history": []
},
"appStorage": {
"recentObjects": []
},
"noDefaultRole": false,
"roles": [],
"groups": [
"5a0370e7c224ab5ff3337aee",
"65bc71292c8c5205c64a8441"
],
"notifyMyChanges": false,
"notifyCampaignOwner": false,
"notifyCampaignMember": false,
"_type": "pb_c_c8_console_user",
"__v": 20,
"hasChosenPhoto": false,
"sfUserId": "700001",
"sfUserIdLower": "700001",
"delegators": [],
"sfUserName": "700001"
}
],
"total": 1
}"""

# REDFLAG_LIST_ERROR: redflag-recipient-api-endpoints.txt line 175
REDFLAG_LIST_ERROR = r"""{
"success":false,
"message":"Illegal parameters"
}"""

# REDFLAG_GET_SUCCESS: redflag-recipient-api-endpoints.txt line 241
REDFLAG_GET_SUCCESS = r"""{
"success":true,
"data":{
"_id": "60f4aeb09279e27183c0a9da",
"aDate": "2021-07-18T22:44:00.989Z",
"mDate": "2024-04-29T01:52:26.962Z",
"email": "john@communic8.com",
"active": true,
"registered": true,
"suppressed": false,
"firstName": "John",
"lastName": "Smith",
"displayName": "John Smith",
"formalName": "John Smith",
"mobile": "",
"phone": "",
"country": "",
"fax": "",
"phoneCountry": "",
"faxCountry": "",
"mobileCountry": "",
"phoneFull": "",
"faxFull": "",
"mobileFull": "",
"nameIsUnicode": false,
"mobileSendable": false,
"photoFileId": "62a299850049992e5b91c106",
"tags": [
{
"key": "z_customField",
"value": "Foo",
"_id": "630469fd98ed1f21a621a4e6"
}
],
"agreementLog": {
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"history": [
{
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"_id": "5f2ca8e101579077b3594f96"
}
]
},
"agreement": {
"history": []
},
"lastAccessDate": "2024-05-13T05:27:34.702Z",
"allowEmail": true,
"allowSms": false,
"allowCommentReplyMobileNotify": true,
"skills": [],
"availability": [],
"exclusive": false,
"sharedUsers": [],
"sharedGroups": [],
"status": "99",
"ownerId": "60f4aeb09279e27183c0a9da",
"sfReportsToUserIds": [],
"followingIds": [
"635b559a1da40d7f27ea0f14"
],
"reportsTo": [],
"supports": [],
"supportedBy": [
"6205aeba97496a2c8e880d91"
],
"education": [],
"employment": [],
"certification": [],
"notes": [],
"contactMeCount": 4,
"appPermission": true,
"appPermissionIndex": "20230117171101",
"online": true,
"timezone": "Australia/Brisbane",
"admin": true,
"activeConsole": true,
"onlineConsole": true,
"lastAccessDateConsole": "2024-01-22T01:31:31.952Z",
"legacyPbUserId": "5f2ca7e0ff6d3377ce1743d2",
"clientAgreementLog": {
"history": []
},
"appStorage": {
"recentObjects": []
},
"noDefaultRole": false,
"roles": [],
"groups": [
"5a0370e7c224ab5ff3337aee",
"65bc71292c8c5205c64a8441"
],
"notifyMyChanges": false,
"notifyCampaignOwner": false,
"notifyCampaignMember": false,
"_type": "pb_c_c8_console_user",
"__v": 20,
"hasChosenPhoto": false,
"sfUserId": "700001",
"sfUserIdLower": "700001",
"delegators": [],
"sfUserName": "700001"
}
}"""

# REDFLAG_GET_ERROR: redflag-recipient-api-endpoints.txt line 351
REDFLAG_GET_ERROR = r"""{
"success":false,
"message":"Recipient Not Found"
}"""

# REDFLAG_UPDATE_SUCCESS: redflag-recipient-api-endpoints.txt line 476
REDFLAG_UPDATE_SUCCESS = r"""{
"success":true,
"data":{
"_id": "60f4aeb09279e27183c0a9da",
"aDate": "2021-07-18T22:44:00.989Z",
"mDate": "2024-04-29T01:52:26.962Z",
"email": "john@communic8.com",
"active": true,
"registered": true,
"suppressed": false,
"firstName": "John",
"lastName": "Smith",
"displayName": "John Smith",
"formalName": "John Smith",
"mobile": "",
"phone": "",
"country": "",
"fax": "",
"phoneCountry": "",
"faxCountry": "",
"mobileCountry": "",
"phoneFull": "",
"faxFull": "",
"mobileFull": "",
"nameIsUnicode": false,
"mobileSendable": false,
"photoFileId": "62a299850049992e5b91c106",
"tags": [
{
"key": "z_customField",
"value": "Foo",
"_id": "630469fd98ed1f21a621a4e6"
}
],
"agreementLog": {
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"history": [
{
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"_id": "5f2ca8e101579077b3594f96"
}
]
},
"agreement": {
"history": []
},
"lastAccessDate": "2024-05-13T05:27:34.702Z",
"allowEmail": true,
"allowSms": false,
"allowCommentReplyMobileNotify": true,
"skills": [],
"availability": [],
"exclusive": false,
"sharedUsers": [],
"sharedGroups": [],
"status": "99",
"ownerId": "60f4aeb09279e27183c0a9da",
"sfReportsToUserIds": [],
"followingIds": [
"635b559a1da40d7f27ea0f14"
],
"reportsTo": [],
"supports": [],
"supportedBy": [
"6205aeba97496a2c8e880d91"
],
"education": [],
"employment": [],
"certification": [],
"notes": [],
"contactMeCount": 4,
"appPermission": true,
"appPermissionIndex": "20230117171101",
"online": true,
"timezone": "Australia/Brisbane",
"admin": true,
"activeConsole": true,
"onlineConsole": true,
"lastAccessDateConsole": "2024-01-22T01:31:31.952Z",
"legacyPbUserId": "5f2ca7e0ff6d3377ce1743d2",
"clientAgreementLog": {
"history": []
},
"appStorage": {
"recentObjects": []
},
"noDefaultRole": false,
"roles": [],
"groups": [
"5a0370e7c224ab5ff3337aee",
"65bc71292c8c5205c64a8441"
],
"notifyMyChanges": false,
"notifyCampaignOwner": false,
"notifyCampaignMember": false,
"_type": "pb_c_c8_console_user",
"__v": 20,
"hasChosenPhoto": false,
"sfUserId": "700001",
"sfUserIdLower": "700001",
"delegators": [],
"sfUserName": "700001"
}
}"""

# REDFLAG_UPDATE_ERROR: redflag-recipient-api-endpoints.txt line 586
REDFLAG_UPDATE_ERROR = r"""{
"success":false,
"message":"Recipient Not Found"
}"""

# REDFLAG_CREATE_SUCCESS: redflag-recipient-api-endpoints.txt line 709
REDFLAG_CREATE_SUCCESS = r"""{
"success":true,
"data":{
"_id": "60f4aeb09279e27183c0a9da",
"aDate": "2021-07-18T22:44:00.989Z",
"mDate": "2024-04-29T01:52:26.962Z",
"email": "john@communic8.com",
"active": true,
"registered": true,
"suppressed": false,
"firstName": "John",
"lastName": "Smith",
"displayName": "John Smith",
"formalName": "John Smith",
"mobile": "",
"phone": "",
"country": "",
"fax": "",
"phoneCountry": "",
"faxCountry": "",
"mobileCountry": "",
"phoneFull": "",
"faxFull": "",
"mobileFull": "",
"nameIsUnicode": false,
"mobileSendable": false,
"photoFileId": "62a299850049992e5b91c106",
"tags": [
{
"key": "z_customField",
"value": "Foo",
"_id": "630469fd98ed1f21a621a4e6"
}
],
"agreementLog": {
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"history": [
{
"agreeTime": "2020-08-07T01:05:37.883Z",
"version": 2,
"_id": "5f2ca8e101579077b3594f96"
}
]
},
"agreement": {
"history": []
},
"lastAccessDate": "2024-05-13T05:27:34.702Z",
"allowEmail": true,
"allowSms": false,
"allowCommentReplyMobileNotify": true,
"skills": [],
"availability": [],
"exclusive": false,
"sharedUsers": [],
"sharedGroups": [],
"status": "99",
"ownerId": "60f4aeb09279e27183c0a9da",
"sfReportsToUserIds": [],
"followingIds": [
"635b559a1da40d7f27ea0f14"
],
"reportsTo": [],
"supports": [],
"supportedBy": [
"6205aeba97496a2c8e880d91"
],
"education": [],
"employment": [],
"certification": [],
"notes": [],
"contactMeCount": 4,
"appPermission": true,
"appPermissionIndex": "20230117171101",
"online": true,
"timezone": "Australia/Brisbane",
"admin": true,
"activeConsole": true,
"onlineConsole": true,
"lastAccessDateConsole": "2024-01-22T01:31:31.952Z",
"legacyPbUserId": "5f2ca7e0ff6d3377ce1743d2",
"clientAgreementLog": {
"history": []
},
"appStorage": {
"recentObjects": []
},
"noDefaultRole": false,
"roles": [],
"groups": [
"5a0370e7c224ab5ff3337aee",
"65bc71292c8c5205c64a8441"
],
"notifyMyChanges": false,
"notifyCampaignOwner": false,
"notifyCampaignMember": false,
"_type": "pb_c_c8_console_user",
"__v": 20,
"hasChosenPhoto": false,
"sfUserId": "700001",
"sfUserIdLower": "700001",
"delegators": [],
"sfUserName": "700001"
}
}"""

# REDFLAG_CREATE_ERROR: redflag-recipient-api-endpoints.txt line 819
REDFLAG_CREATE_ERROR = r"""{
"success":false,
"message":"The email address john.smith@communic8.com is already in use by another account"
}"""

# REDFLAG_DELETE_SUCCESS: redflag-recipient-api-endpoints.txt line 886
REDFLAG_DELETE_SUCCESS = r"""{
"success":true
}"""

# REDFLAG_DELETE_ERROR: redflag-recipient-api-endpoints.txt line 893
REDFLAG_DELETE_ERROR = r"""{
"success":false,
"message":"Recipient Not Found"
}"""


# Snappy: the create/update documents give each field's example; assembled as one record.
SNAPPY_RECIPIENT = r"""{
"id": "xyz12345",
"createdAt": "2022-12-06T09:50:38.536Z",
"updatedAt": "2022-12-06T09:50:38.536Z",
"firstName": "John",
"country": "US",
"accounts": ["a12bcd34", "a56bcd78"],
"type": "employee",
"updatedBy": "abc12345",
"source": { "type": "apiIntegration" },
"birthday": "2022-12-06T00:00:00.000Z",
"lastName": "Doe",
"email": "john.doe@example.com",
"emailOverride": "john.doe.override@example.com",
"mobilePhone": "+1234567890",
"externalId": "1234567890",
"recipientCustomFields": [],
"employee": {
"workingSince": "2022-01-15T00:00:00.000Z",
"department": "Engineering"
},
"owner": {
"firstName": "Jane",
"lastName": "Doe",
"email": "jane.doe@example.com"
}
}"""

# CONTRACT-NOTES "Snappy": the error body, and a 400 validation error carrying ``path``.
SNAPPY_UNAUTHORIZED = (
    r"""{"status": 401, "errorCode": 10001, "message": "Authorization key is invalid."}"""
)
SNAPPY_INVALID_REQUEST = (
    r"""{"path": "firstName", "errorCode": "INVALID_REQUEST", "message": "firstName is required"}"""
)

# campaign-trigger-admin-api.txt: the example request body (trailing commas removed).
PARCELVOY_EMAIL_TRIGGER_BODY = r"""{
"user": {
"external_id": "EXTERNAL_ID",
"email": "test@test.com",
"timezone": "America/Chicago",
"locale": "en"
},
"event": {
"random_field": "value"
}
}"""
# CONTRACT-NOTES "Campaign trigger": the server's replies.
PARCELVOY_SUCCESS = r"""{"success": true}"""
PARCELVOY_422 = r"""{"status": "error", "error": "Must have required property 'external_id'"}"""
PARCELVOY_UNKNOWN_KEY = (
    r"""{"status":"error","error":"The requested project does not exist.","code":6000}"""
)
PARCELVOY_CAMPAIGN_NOT_FOUND = "Not Found"
