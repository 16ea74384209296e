/* Reason table (REGULATION.md §3 "Answers", PROTOCOL.md §5), decision builders and names.
 * Messages marked in docs/policy.md as "our wording" await a native speaker's check; the
 * certificate messages follow the CA SDK's checker (REGULATION.md §6). */
#include <string.h>

#include "pol_int.h"

#define UA  "UNAUTHORIZED_ACCESS"
#define EC  "ERROR_CERTIFICATE"
#define NOC 0, 0, ""

/* Indexed by enum pol_reason. code 0: not a refusal of `sign` (WARN, or kysoctl only). */
static const struct pol_reason_info reasons[POL_R_COUNT] = {
	[POL_R_NONE] = { "NONE", "", NOC, "", "" },
	[POL_R_SECRECY_LEVEL_MISSING] = { "SECRECY_LEVEL_MISSING", "A1", 102, 0, "MISSING_PARAM",
	                                  "Thiếu độ mật của văn bản",
	                                  "document secrecy level missing" },
	[POL_R_STATE_SECRET_REFUSED] = { "STATE_SECRET_REFUSED", "A1", 107, 1071,
	                                 "INAPPROPRIATE_DATA",
	                                 "Không ký số văn bản chứa bí mật nhà nước bằng chữ ký số "
	                                 "chuyên dùng công vụ",
	                                 "state-secret documents are not signed here" },
	[POL_R_PUBLIC_CA_NOT_ALLOWED] = { "PUBLIC_CA_NOT_ALLOWED", "A2", 104, 1053, UA,
	                                  "Không được dùng chứng thư số công cộng sau thời hạn "
	                                  "chuyển đổi",
	                                  "public-CA certificates are no longer allowed" },
	[POL_R_TITLE_NOT_AUTHORISED] = { "TITLE_NOT_AUTHORISED", "A3", 104, 1049, UA,
	                                 "Chức danh hiện tại không được ký loại văn bản này",
	                                 "the signer's current title does not cover this "
	                                 "document" },
	[POL_R_TITLE_MISMATCH] = { "TITLE_MISMATCH", "A3", 104, 1049, UA,
	                           "Chức danh trên chứng thư số khác chức danh hiện tại",
	                           "title in the certificate differs from the directory" },
	[POL_R_NOT_IN_MANAGED_TREE] = { "NOT_IN_MANAGED_TREE", "A4", NOC,
	                                "Thuê bao không thuộc cơ quan quản lý trực tiếp",
	                                "subject is outside the managing agency's organisation "
	                                "tree" },
	[POL_R_ORG_PRECONDITION_MISSING] = { "ORG_PRECONDITION_MISSING", "A5", NOC,
	                                     "Tổ chức chưa đủ điều kiện (tư cách pháp nhân, con "
	                                     "dấu, quyết định thành lập)",
	                                     "organisation lacks legal personality, seal or "
	                                     "establishment decision" },
	[POL_R_ASSET_NOT_REGISTERED] = { "ASSET_NOT_REGISTERED", "A6", NOC,
	                                 "Thiết bị, dịch vụ chưa được đăng ký tài sản",
	                                 "device or service not registered" },
	[POL_R_OFFICIAL_EMAIL_REQUIRED] = { "OFFICIAL_EMAIL_REQUIRED", "A7", NOC,
	                                    "Phải dùng hộp thư điện tử công vụ",
	                                    "an official e-mail address is required" },
	[POL_R_NOT_MANAGING_AGENCY] = { "NOT_MANAGING_AGENCY", "A8", NOC,
	                                "Chỉ cơ quan quản lý trực tiếp được đề nghị",
	                                "only the subject's managing agency may file this "
	                                "request" },
	[POL_R_VALIDITY_TOO_LONG] = { "VALIDITY_TOO_LONG", "B1", NOC,
	                              "Thời hạn chứng thư số cấp mới không quá 5 năm",
	                              "a new certificate may last at most 5 years" },
	[POL_R_RENEWAL_TOO_LONG] = { "RENEWAL_TOO_LONG", "B2", NOC, "Gia hạn không quá 3 năm",
	                             "a renewal may add at most 3 years" },
	[POL_R_RENEWAL_LIMIT_REACHED] = { "RENEWAL_LIMIT_REACHED", "B3", NOC,
	                                  "Chứng thư số chỉ được gia hạn một lần; đề nghị cấp mới",
	                                  "the certificate was already renewed once; request a new "
	                                  "one" },
	[POL_R_TOO_LATE_TO_RENEW] = { "TOO_LATE_TO_RENEW", "B4", NOC,
	                              "Phải đề nghị gia hạn trước khi hết hạn ít nhất 30 ngày; đề "
	                              "nghị cấp mới",
	                              "too close to expiry to renew; request a new certificate" },
	[POL_R_TOO_LATE_TO_CHANGE] = { "TOO_LATE_TO_CHANGE", "B5", NOC,
	                               "Phải đề nghị thay đổi thông tin trước khi hết hạn ít nhất "
	                               "30 ngày",
	                               "too close to expiry to change information" },
	[POL_R_CHANGE_ALTERED_VALIDITY] = { "CHANGE_ALTERED_VALIDITY", "B5", NOC,
	                                    "Thay đổi thông tin không được làm thay đổi thời hạn "
	                                    "chứng thư số",
	                                    "a change of information must keep the validity" },
	[POL_R_CERT_DATA_STALE] = { "CERT_DATA_STALE", "B7", NOC,
	                            "Thông tin trên chứng thư số chưa được cập nhật",
	                            "certificate data not updated" },
	[POL_R_SUBSCRIBER_INACTIVE] = { "SUBSCRIBER_INACTIVE", "B8", 104, 1059, UA,
	                                "Thuê bao không còn công tác; chứng thư số phải thu hồi",
	                                "the subscriber is no longer in office" },
	[POL_R_ORG_DISSOLVED] = { "ORG_DISSOLVED", "B9", 104, 1060, UA,
	                          "Cơ quan, tổ chức đã giải thể, sáp nhập hoặc chia tách",
	                          "the organisation was dissolved, merged or split" },
	[POL_R_KEY_COMPROMISED] = { "KEY_COMPROMISED", "B11", 104, 1061, UA,
	                            "Khóa bí mật bị lộ hoặc thiết bị bị mất; chứng thư số phải thu "
	                            "hồi",
	                            "the key is compromised or the device lost" },
	[POL_R_LEGAL_BASIS_MISSING] = { "LEGAL_BASIS_MISSING", "B11", NOC,
	                                "Đề nghị thu hồi của cơ quan chức năng phải nêu căn cứ "
	                                "pháp lý",
	                                "an authority's revocation request needs its legal basis" },
	[POL_R_LOSS_MINUTES_MISSING] = { "LOSS_MINUTES_MISSING", "B13", NOC,
	                                 "Thiếu biên bản mất thiết bị (Mẫu 09)",
	                                 "loss minutes (Mẫu 09) missing" },
	[POL_R_DEVICE_LOCKED] = { "DEVICE_LOCKED", "B14", 402, 4021, "PIN_NR_BLOCKED",
	                          "Thiết bị đã bị khóa; đang chờ khôi phục",
	                          "the device is locked; recovery is pending" },
	[POL_R_REASON_REQUIRED] = { "REASON_REQUIRED", "B16", NOC,
	                            "Từ chối phải bằng văn bản và nêu rõ lý do",
	                            "a refusal must state its reason" },
	[POL_R_REQUEST_NOT_SIGNED] = { "REQUEST_NOT_SIGNED", "B19", NOC,
	                               "Văn bản đề nghị phải được cơ quan ký số",
	                               "the request must be signed by the agency" },
	[POL_R_ORG_KEY_NOT_ASSIGNED] = { "ORG_KEY_NOT_ASSIGNED", "C1", 104, 1047, UA,
	                                 "Người ký không được giao quản lý khóa bí mật của cơ quan",
	                                 "the signer holds no assignment for the organisation "
	                                 "key" },
	[POL_R_ORG_KEY_OUTSIDE_PREMISES] = { "ORG_KEY_OUTSIDE_PREMISES", "C2", 104, 1054, UA,
	                                     "Không được dùng khóa bí mật của cơ quan ngoài trụ sở",
	                                     "the organisation key may not be used outside the "
	                                     "premises" },
	[POL_R_SEAL_HANDOVER_INVALID] = { "SEAL_HANDOVER_INVALID", "C3", 104, 1051, UA,
	                                  "Bàn giao khóa bí mật của cơ quan không hợp lệ",
	                                  "organisation key hand-over lacks permission, minutes or "
	                                  "window" },
	[POL_R_AUTOMATED_ORG_SEAL] = { "AUTOMATED_ORG_SEAL", "C4", 104, 1055, UA,
	                               "Tài khoản tự động không được dùng khóa bí mật của cơ quan",
	                               "a service account may not use the organisation key" },
	[POL_R_ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE] = { "ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE",
	                                                  "C5", 104, 1056, UA,
	                                                  "Văn bản chưa có chữ ký số hợp lệ của "
	                                                  "người có thẩm quyền",
	                                                  "no valid authorised signature on this "
	                                                  "document" },
	[POL_R_COPY_NOT_OWN] = { "COPY_NOT_OWN", "C5", 104, 1056, UA,
	                         "Bản sao phải do chính cơ quan thực hiện",
	                         "the copy was not made by this agency" },
	[POL_R_SUBSCRIBER_MISMATCH] = { "SUBSCRIBER_MISMATCH", "C6", 104, 0, UA,
	                                "Thiết bị không thuộc người ký",
	                                "the device session belongs to another subscriber" },
	[POL_R_CERT_TYPE_MODE_MISMATCH] = { "CERT_TYPE_MODE_MISMATCH", "C7", 104, 1057, UA,
	                                    "Loại chứng thư số không phù hợp với hình thức ký",
	                                    "certificate type does not fit the signing mode" },
	[POL_R_CERT_NOT_OWN] = { "CERT_NOT_OWN", "C8", 104, 1048, UA,
	                         "Phải dùng chứng thư số của chính người ký",
	                         "the signer must use their own certificate" },
	[POL_R_NO_DELEGATION] = { "NO_DELEGATION", "C8", 104, 1048, UA,
	                          "Không có văn bản giao ký hoặc ủy quyền còn hiệu lực",
	                          "no active delegation for this label" },
	[POL_R_DELEGATION_EXPIRED] = { "DELEGATION_EXPIRED", "C9", 104, 1058, UA,
	                               "Ủy quyền đã hết hạn", "the delegation has expired" },
	[POL_R_DELEGATION_OUT_OF_SCOPE] = { "DELEGATION_OUT_OF_SCOPE", "C9", 104, 1058, UA,
	                                    "Văn bản ngoài phạm vi ủy quyền",
	                                    "the document is outside the delegation's scope" },
	[POL_R_REDELEGATION_FORBIDDEN] = { "REDELEGATION_FORBIDDEN", "C9", 104, 1058, UA,
	                                   "Không được ủy quyền lại",
	                                   "a TUQ. delegation may not be delegated again" },
	[POL_R_ISSUE_BEFORE_APPROVE] = { "ISSUE_BEFORE_APPROVE", "D9", 104, 1050, UA,
	                                 "Văn bản chưa được người có thẩm quyền ký duyệt",
	                                 "the document has not been approved yet" },
	[POL_R_ALGORITHM_NOT_ALLOWED] = { "ALGORITHM_NOT_ALLOWED", "D10", 505, 0,
	                                  "CONSTRAINT_MISMATCH",
	                                  "Thuật toán ký số không đáp ứng yêu cầu",
	                                  "key or algorithm below the minimums" },
	[POL_R_STATUS_UNKNOWN] = { "STATUS_UNKNOWN", "D3", NOC,
	                           "Không xác định được trạng thái chứng thư số",
	                           "certificate status could not be obtained" },
	[POL_R_STATUS_UNKNOWN_SEAL] = { "STATUS_UNKNOWN_SEAL", "D3", 104, 1052, UA,
	                                "Không xác định được trạng thái chứng thư số của cơ quan",
	                                "organisation certificate status could not be obtained" },
	[POL_R_PAPER_COPY_REQUIRED] = { "PAPER_COPY_REQUIRED", "D13", NOC,
	                                "Loại văn bản này còn phải gửi kèm bản giấy",
	                                "this document class also needs a paper copy" },
	[POL_R_MAIN_DOCUMENT_NOT_ISSUED] = { "MAIN_DOCUMENT_NOT_ISSUED", "attachment", 104, 1062,
	                                     UA, "Văn bản chính chưa được phát hành",
	                                     "the main document is not issued yet" },
	[POL_R_UNTRUSTED_ROOT] = { "UNTRUSTED_ROOT", "D1", 425, 0, EC, "Chứng thư số không tin cậy",
	                           "certificate not trusted" },
	[POL_R_INVALID_CERT_CHAIN] = { "INVALID_CERT_CHAIN", "D1", 425, 0, EC,
	                               "Đường dẫn chứng thực không hợp lệ",
	                               "invalid certificate chain" },
	[POL_R_CERT_EXPIRED] = { "CERT_EXPIRED", "D1", 425, 0, EC,
	                         "Chứng thư số đã hết hạn sử dụng", "certificate expired" },
	[POL_R_CERT_NOT_YET_VALID] = { "CERT_NOT_YET_VALID", "D1", 425, 0, EC,
	                               "Chứng thư số chưa có hiệu lực",
	                               "certificate not yet valid" },
	[POL_R_CERT_USAGE_NOT_ALLOWED] = { "CERT_USAGE_NOT_ALLOWED", "D2", 425, 0, EC,
	                                   "Chứng thư số không được phép dùng cho mục đích này",
	                                   "certificate usage not allowed" },
	[POL_R_CERT_IS_REVOKED] = { "CERT_IS_REVOKED", "D2", 501, 0, "REVOKED_CERTIFICATE",
	                            "Chứng thư số đã bị thu hồi", "certificate revoked" },
	[POL_R_CA_CERT_IS_REVOKED] = { "CA_CERT_IS_REVOKED", "D2", 501, 0, "REVOKED_CERTIFICATE",
	                               "Chứng thư số CA đã bị thu hồi", "CA certificate revoked" },
	[POL_R_CALENDAR_MISSING] = { "CALENDAR_MISSING", "§5", NOC,
	                             "Chưa khai báo lịch nghỉ của năm",
	                             "no holiday calendar for that year" },
	[POL_R_SIGNER_QUOTA] = { "SIGNER_QUOTA", "gateway", 406, 0, "PB_SIGNATURE_PROCESS",
	                         "Người ký đang có quá nhiều yêu cầu chờ",
	                         "the signer's queue is full" },
	[POL_R_CREDENTIAL_NOT_LOCKED] = { "CREDENTIAL_NOT_LOCKED", "B14", NOC,
	                                  "Thiết bị không bị khóa, không cần khôi phục",
	                                  "the credential is not locked: nothing to recover" },
};

const struct pol_reason_info *
pol_reason_info(enum pol_reason r)
{
	if ((unsigned)r >= POL_R_COUNT || reasons[r].name == NULL)
		return &reasons[POL_R_NONE];
	return &reasons[r];
}

const char *
pol_strerror(enum pol_err e)
{
	switch (e) {
	case POL_OK:
		return "ok";
	case POL_E_INVAL:
		return "invalid argument";
	case POL_E_TOO_BIG:
		return "configuration too big";
	case POL_E_JSON:
		return "configuration is not valid JSON";
	case POL_E_SCHEMA:
		return "configuration does not match the schema";
	case POL_E_FULL:
		return "too many entries";
	case POL_E_NOT_FOUND:
		return "no such province profile";
	case POL_E_NO_ROUTE:
		return "no such request for this credential and device";
	case POL_E_RANGE:
		return "date or count out of range";
	case POL_E_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

const char *
pol_task_name(enum pol_task t)
{
	static const char *const names[POL_TASK_COUNT] = {
		[POL_TASK_DRAFT_NEW_ISSUANCE] = "DRAFT_NEW_ISSUANCE",
		[POL_TASK_DRAFT_MAU_04] = "DRAFT_MAU_04",
		[POL_TASK_DRAFT_MAU_05] = "DRAFT_MAU_05",
		[POL_TASK_DRAFT_MAU_06] = "DRAFT_MAU_06",
		[POL_TASK_DRAFT_MAU_09] = "DRAFT_MAU_09",
		[POL_TASK_DEVICE_RETURN] = "DEVICE_RETURN",
		[POL_TASK_NOTIFY_DOST] = "NOTIFY_DOST",
		[POL_TASK_NOTIFY_HEAD_IT] = "NOTIFY_HEAD_IT",
	};

	return (unsigned)t < POL_TASK_COUNT ? names[t] : "?";
}

const char *
pol_role_name(enum pol_role r)
{
	switch (r) {
	case POL_ROLE_NONE:
		return "NONE";
	case POL_ROLE_CLERK:
		return "CLERK";
	case POL_ROLE_COMPETENT_PERSON:
		return "COMPETENT_PERSON";
	case POL_ROLE_DOST_OPERATOR:
		return "DOST_OPERATOR";
	}
	return "?";
}

void
pol__decision_init(struct pol_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->verdict = POL_ALLOW;
	d->reason = POL_R_NONE;
	d->cosign = POL_ROLE_NONE;
}

static void
add_hit(struct pol_decision *d, enum pol_verdict v, enum pol_reason r, const char *rule)
{
	if (d->nhit >= POL_HITS_MAX) {
		d->truncated = true;
		return;
	}
	d->hit[d->nhit].verdict = v;
	d->hit[d->nhit].reason = r;
	d->hit[d->nhit].rule = rule;
	d->nhit++;
}

void
pol__deny(struct pol_decision *d, enum pol_reason r, const char *rule)
{
	/* The first denial decides the error frame; the others are still listed. */
	if (d->verdict != POL_DENY) {
		d->verdict = POL_DENY;
		d->reason = r;
		d->rule = rule;
	}
	add_hit(d, POL_DENY, r, rule);
}

void
pol__warn(struct pol_decision *d, enum pol_reason r, const char *rule)
{
	if (d->verdict < POL_WARN)
		d->verdict = POL_WARN;
	add_hit(d, POL_WARN, r, rule);
}

void
pol__cosign(struct pol_decision *d, enum pol_role role, const char *rule)
{
	if (d->verdict < POL_COSIGN)
		d->verdict = POL_COSIGN;
	if (d->cosign == POL_ROLE_NONE) {
		d->cosign = role;
		d->cosign_rule = rule;
	}
}

void
pol__task(struct pol_decision *d, enum pol_task t, const char *rule)
{
	for (unsigned i = 0; i < d->ntask; i++)
		if (d->task[i].kind == t)
			return; /* one task per kind: two rules asking for Mẫu 05 make one draft */
	if (d->ntask >= POL_TASKS_MAX) {
		d->truncated = true;
		return;
	}
	d->task[d->ntask].kind = t;
	d->task[d->ntask].rule = rule;
	d->ntask++;
}

bool
pol__str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

bool
pol__str_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

bool
pol__class_in(const char *const *classes, size_t n, const char *cls)
{
	if (cls == NULL)
		cls = "general";
	if (classes == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pol__str_eq(classes[i], "*") || pol__str_eq(classes[i], cls))
			return true;
	return false;
}
