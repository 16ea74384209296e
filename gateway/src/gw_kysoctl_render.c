/* gw_kysoctl_render.c -- the usage report (REGULATION.md F3; QN 17.6 and its appendix, NB
 * 17.8, DN 15.6): report periods and the table in CSV or HTML. Pure: the rows come from
 * db_admin_usage_report(), the document goes to a FILE. */
#include <string.h>

#include "gw_kysoctl_int.h"

static bool
take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* "YYYY-MM-DD" at *p. */
static bool
take_date(const char **p, int32_t *day)
{
	int y, m, d;

	if (!take_digits(p, 4, &y) || *(*p)++ != '-' || !take_digits(p, 2, &m) || *(*p)++ != '-' ||
	    !take_digits(p, 2, &d))
		return false;
	return pol_day_from_date(y, m, d, day) == POL_OK;
}

static bool
year_span(int y, int m0, int m1, int d1, struct kc_period *out)
{
	return pol_day_from_date(y, m0, 1, &out->from) == POL_OK &&
	       pol_day_from_date(y, m1, d1, &out->to) == POL_OK;
}

bool
kc_period_parse(const char *s, struct kc_period *out)
{
	const char *p = s;
	int y;

	if (s == NULL || strlen(s) > 32)
		return false;
	if (strstr(s, "..") != NULL) {
		if (!take_date(&p, &out->from) || strncmp(p, "..", 2) != 0)
			return false;
		p += 2;
		return take_date(&p, &out->to) && *p == '\0' && out->from <= out->to;
	}
	if (!take_digits(&p, 4, &y) || y < 1970)
		return false;
	if (*p == '\0')
		return year_span(y, 1, 12, 31, out);
	if (strcmp(p, "H1") == 0) /* every six months: QN 17.6 */
		return year_span(y, 1, 6, 30, out);
	if (strcmp(p, "H2") == 0)
		return year_span(y, 7, 12, 31, out);
	return false;
}

const char *
kc_device_label(const char *device)
{
	if (device == NULL)
		return "";
	if (strcmp(device, "sim") == 0)
		return "SIM PKI";
	if (strcmp(device, "token") == 0)
		return "PKI Token";
	if (strcmp(device, "hsm") == 0)
		return "HSM";
	if (strcmp(device, "soft") == 0)
		return "Phần mềm";
	return device;
}

static const char *
str_of(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "";
}

/* "dd/mm/yyyy" from "yyyy-mm-dd..." (dates as Vietnamese documents print them). */
static void
vn_date(const char *iso, char out[16])
{
	if (strlen(iso) >= 10)
		snprintf(out, 16, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
	else
		snprintf(out, 16, "%s", iso);
}

/* Ghi chú: state other than active, renewals, and an expiry inside the period. */
static void
notes(const json_t *row, const char *period_to, char *out, size_t cap)
{
	const char *state = str_of(row, "state"), *na = str_of(row, "not_after");
	json_int_t renewals = json_integer_value(json_object_get(row, "renewal_count"));
	char d[16];
	size_t n = 0;

	out[0] = '\0';
	if (strcmp(state, "revoked") == 0)
		n += (size_t)snprintf(out + n, cap - n, "Đã thu hồi");
	else if (strcmp(state, "locked") == 0)
		n += (size_t)snprintf(out + n, cap - n, "Thiết bị bị khóa");
	else if (strcmp(state, "lost") == 0)
		n += (size_t)snprintf(out + n, cap - n, "Báo mất thiết bị");
	if (renewals > 0 && n < cap)
		n += (size_t)snprintf(out + n, cap - n, "%sĐã gia hạn", n ? "; " : "");
	if (strlen(na) >= 10 && strncmp(na, period_to, 10) <= 0 && n < cap) {
		vn_date(na, d);
		snprintf(out + n, cap - n, "%sHết hạn %s", n ? "; " : "", d);
	}
}

/* RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled. */
static void
csv_cell(FILE *f, const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n") != NULL) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(last ? "\r\n" : ",", f);
}

static void
html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *const columns[6] = { "TT",      "Tên chứng thư số",         "Cơ quan, tổ chức",
	                                "Số hiệu", "Thiết bị lưu khóa bí mật", "Ghi chú" };

/* The six cells of one row; cells[0] is the row number. */
static void
row_cells(const json_t *row, size_t i, const char *to, char num[16], char note[256],
          const char *cells[6])
{
	snprintf(num, 16, "%zu", i + 1);
	notes(row, to, note, 256);
	cells[0] = num;
	cells[1] = str_of(row, "display_name");
	cells[2] = str_of(row, "org_name");
	cells[3] = str_of(row, "serial_hex");
	cells[4] = kc_device_label(str_of(row, "device"));
	cells[5] = note;
}

static void
render_csv(const json_t *rep, const json_t *rows, FILE *f)
{
	const char *to = str_of(rep, "to"), *cells[6];
	char num[16], note[256], total[32];
	const json_t *row;
	size_t i;

	for (int c = 0; c < 6; c++)
		csv_cell(f, columns[c], c == 5);
	json_array_foreach(rows, i, row)
	{
		row_cells(row, i, to, num, note, cells);
		for (int c = 0; c < 6; c++)
			csv_cell(f, cells[c], c == 5);
	}
	snprintf(total, sizeof(total), "%zu", json_array_size(rows));
	csv_cell(f, "Cộng", false);
	csv_cell(f, total, false);
	for (int c = 2; c < 6; c++)
		csv_cell(f, "", c == 5);
}

static void
html_head(const json_t *rep, FILE *f)
{
	const char *prov = str_of(rep, "province_name");
	char from[16], to[16];

	vn_date(str_of(rep, "from"), from);
	vn_date(str_of(rep, "to"), to);
	fputs("<!DOCTYPE html>\n<html lang=\"vi\">\n<head><meta charset=\"utf-8\">"
	      "<title>BÁO CÁO TÌNH HÌNH SỬ DỤNG CHỮ KÝ SỐ CHUYÊN DÙNG</title></head>\n<body>\n"
	      "<p class=\"org\">",
	      f);
	html_text(f, str_of(rep, "org_name"));
	fputs("</p>\n<h1>BÁO CÁO TÌNH HÌNH SỬ DỤNG CHỮ KÝ SỐ CHUYÊN DÙNG</h1>\n<p>Kính gửi: ", f);
	html_text(f, prov[0] ? prov : "Sở Khoa học và Công nghệ");
	fputs("</p>\n<p>Tên cơ quan, đơn vị: ", f);
	html_text(f, str_of(rep, "org_name"));
	fprintf(f, "</p>\n<p>Kỳ báo cáo: từ %s đến %s</p>\n", from, to);
}

static void
render_html(const json_t *rep, const json_t *rows, FILE *f)
{
	const char *to = str_of(rep, "to"), *cells[6];
	char num[16], note[256];
	const json_t *row;
	size_t i;

	html_head(rep, f);
	fputs("<table border=\"1\">\n<thead><tr>", f);
	for (int c = 0; c < 6; c++) {
		fputs("<th>", f);
		html_text(f, columns[c]);
		fputs("</th>", f);
	}
	fputs("</tr></thead>\n<tbody>\n", f);
	json_array_foreach(rows, i, row)
	{
		row_cells(row, i, to, num, note, cells);
		fputs("<tr>", f);
		for (int c = 0; c < 6; c++) {
			fputs("<td>", f);
			html_text(f, cells[c]);
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fprintf(f,
	        "</tbody>\n<tfoot><tr class=\"total\"><td>Cộng</td><td colspan=\"5\">%zu</td>"
	        "</tr></tfoot>\n</table>\n</body>\n</html>\n",
	        json_array_size(rows));
}

bool
kc_report_render(const json_t *report, enum kc_format fmt, FILE *f)
{
	const json_t *rows = json_object_get(report, "rows");

	if (!json_is_object(report) || !json_is_array(rows) || f == NULL)
		return false;
	if (fmt == KC_HTML)
		render_html(report, rows, f);
	else
		render_csv(report, rows, f);
	return !ferror(f);
}
