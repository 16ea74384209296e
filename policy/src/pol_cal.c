/* Working-day calendar (REGULATION.md §5): Monday-Friday, minus configured holidays and
 * compensatory days off, plus announced make-up days. Holidays are data; no lunar
 * arithmetic here. Local time is Asia/Ho_Chi_Minh, a fixed UTC+07:00. */
#include "pol_int.h"

#define VN_OFFSET_S (7 * 3600)

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int n[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, by counting whole
 * 400-year eras from year 0 (shifted so that the year starts in March). */
static int32_t
days_from_civil(int y, int m, int d)
{
	int yy = m <= 2 ? y - 1 : y;
	int era = yy / 400; /* yy >= 1969 here, never negative */
	int yoe = yy - era * 400;
	int mp = (m + 9) % 12; /* March = 0 */
	int doy = (153 * mp + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int32_t)(era * 146097 + doe - 719468);
}

enum pol_err
pol_day_from_date(int year, int month, int day, int32_t *out)
{
	if (out == NULL || year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 ||
	    day > month_days(year, month))
		return POL_E_RANGE;
	*out = days_from_civil(year, month, day);
	return POL_OK;
}

void
pol_day_to_date(int32_t dayno, int *year, int *month, int *day)
{
	int64_t z = (int64_t)dayno + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);

	*year = (int)y;
	*month = (int)m;
	*day = (int)d;
}

int32_t
pol_day_of_time(int64_t t, int *minute_of_day)
{
	int64_t local = t + VN_OFFSET_S;
	int64_t day = local >= 0 ? local / POL_DAY_S : (local - (POL_DAY_S - 1)) / POL_DAY_S;

	if (minute_of_day != NULL)
		*minute_of_day = (int)((local - day * POL_DAY_S) / 60);
	return (int32_t)day;
}

int64_t
pol__add_years(int64_t t, int years)
{
	int y, m, d, min;
	int32_t day = pol_day_of_time(t, &min), nd;
	int64_t secs_in_day = t + VN_OFFSET_S - (int64_t)day * POL_DAY_S;

	pol_day_to_date(day, &y, &m, &d);
	y += years;
	if (m == 2 && d == 29 && !is_leap(y))
		d = 28;
	if (pol_day_from_date(y, m, d, &nd) != POL_OK)
		return INT64_MAX; /* beyond 9999: no limit can be exceeded there */
	return (int64_t)nd * POL_DAY_S + secs_in_day - VN_OFFSET_S;
}

static const struct pol_cal_year *
find_year(const struct pol_calendar *cal, int y)
{
	for (unsigned i = 0; i < cal->nyears && i < POL_YEARS_MAX; i++)
		if (cal->years[i].year == y)
			return &cal->years[i];
	return NULL;
}

bool
pol_wd_is_working(const struct pol_calendar *cal, int32_t dayno, bool *missing)
{
	int y, m, d;
	int32_t jan1;
	/* 1970-01-01 was a Thursday: weekday 0 = Monday. */
	int wd = (int)((((int64_t)dayno % 7) + 7 + 3) % 7);
	bool weekend = wd >= 5;
	const struct pol_cal_year *cy;

	pol_day_to_date(dayno, &y, &m, &d);
	cy = cal != NULL ? find_year(cal, y) : NULL;
	if (cy == NULL) {
		if (missing != NULL)
			*missing = true;
		return !weekend;
	}
	if (pol_day_from_date(y, 1, 1, &jan1) != POL_OK)
		return !weekend;
	unsigned doy = (unsigned)(dayno - jan1);
	if (weekend)
		return (cy->on[doy / 8] >> (doy % 8)) & 1u;
	return !((cy->off[doy / 8] >> (doy % 8)) & 1u);
}

static int32_t
next_working(const struct pol_calendar *cal, int32_t day, bool *missing)
{
	/* Bounded: a year has at most a few weeks off in a row. */
	for (int i = 0; i < 400 && !pol_wd_is_working(cal, day, missing); i++)
		day++;
	return day;
}

enum pol_err
pol_wd_add(const struct pol_calendar *cal, int32_t day0, int n, int32_t *due, bool *missing)
{
	bool miss = false;
	int32_t day;

	if (due == NULL)
		return POL_E_INVAL;
	if (n < 0 || n > 366 || day0 < 0 || day0 > 2900000)
		return POL_E_RANGE;
	day = next_working(cal, day0, &miss);
	for (int i = 0; i < n; i++)
		day = next_working(cal, day + 1, &miss);
	*due = day;
	if (missing != NULL)
		*missing = miss;
	return POL_OK;
}

enum pol_err
pol_wd_due(const struct pol_calendar *cal, int64_t received_at, int n, int32_t *due, bool *missing)
{
	int minute;
	int32_t day;

	if (received_at < 0)
		return POL_E_RANGE;
	day = pol_day_of_time(received_at, &minute);
	/* §5: receipt outside office hours counts from the next working day (O14). */
	if (cal != NULL && minute >= cal->office_end_min)
		day++;
	return pol_wd_add(cal, day, n, due, missing);
}

enum pol_err
pol_wd_between(const struct pol_calendar *cal, int32_t a, int32_t b, int *out, bool *missing)
{
	bool miss = false;
	int32_t lo = a < b ? a : b, hi = a < b ? b : a;
	int n = 0;

	if (out == NULL)
		return POL_E_INVAL;
	if (hi - lo > 20 * 366 || lo < 0)
		return POL_E_RANGE;
	for (int32_t day = lo + 1; day <= hi; day++)
		if (pol_wd_is_working(cal, day, &miss))
			n++;
	*out = a <= b ? n : -n;
	if (missing != NULL)
		*missing = miss;
	return POL_OK;
}
