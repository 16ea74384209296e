/* Unit tests of the agent's PIN sources (PCSC.md 5.4): the PIN file rules (mode exactly 0600,
 * owner, no symlink, digits only, re-read per request), the pinentry dialogue with a scripted
 * pinentry (OK, cancel, percent escapes, a dialogue past its deadline), Assuan escaping and the
 * reconnect back-off. */
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent_link.h"

static char dir[64];

static void
write_file(const char *name, const char *text, mode_t mode, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kyso-pin-XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s", dir);
	/* The files are ours and few: remove them one by one. */
	static const char *const names[] = { "pin", "pin644", "link", "pinentry", "log", "bad" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[128];

		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(cmd);
	return 0;
}

static enum agent_pin_rc
from_file(const char *path, struct agent_pin *pin)
{
	struct agent_pin_cfg cfg = { .source = AGENT_PIN_FILE };
	struct agent_pin_ask ask = { "x", "CN=t", "00", 3, 0 };

	snprintf(cfg.file, sizeof(cfg.file), "%s", path);
	return agent_pin_get(&cfg, &ask, pin);
}

static void
pin_file_mode_and_content(void **state)
{
	char path[128], p644[128], link[140], bad[128], why[128];
	struct agent_pin pin;

	(void)state;
	write_file("pin", "123456\n", 0600, path, sizeof(path));
	assert_int_equal(agent_pin_file_check(path, why, sizeof(why)), 0);
	assert_int_equal(from_file(path, &pin), AGENT_PIN_OK);
	assert_int_equal(pin.len, 6);
	assert_string_equal(pin.digits, "123456");
	agent_pin_wipe(&pin);
	assert_int_equal(pin.len, 0);

	/* Re-read on every request. */
	write_file("pin", "9876\r\nextra", 0600, path, sizeof(path));
	assert_int_equal(from_file(path, &pin), AGENT_PIN_OK);
	assert_string_equal(pin.digits, "9876");
	agent_pin_wipe(&pin);

	write_file("pin644", "123456\n", 0644, p644, sizeof(p644));
	assert_int_equal(agent_pin_file_check(p644, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "0644"));
	assert_int_equal(from_file(p644, &pin), AGENT_PIN_ERROR);
	assert_int_equal(pin.len, 0);
	write_file("pin644", "123456\n", 0400, p644, sizeof(p644));
	assert_int_equal(agent_pin_file_check(p644, why, sizeof(why)), -1);

	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(agent_pin_file_check(link, why, sizeof(why)), -1);
	assert_int_equal(from_file(link, &pin), AGENT_PIN_ERROR);

	write_file("bad", "12a456\n", 0600, bad, sizeof(bad));
	assert_int_equal(from_file(bad, &pin), AGENT_PIN_ERROR);
	write_file("bad", "123\n", 0600, bad, sizeof(bad));
	assert_int_equal(from_file(bad, &pin), AGENT_PIN_ERROR);
	write_file("bad", "12345678901234567\n", 0600, bad, sizeof(bad));
	assert_int_equal(from_file(bad, &pin), AGENT_PIN_ERROR);
	assert_int_equal(agent_pin_file_check("/nonexistent/pin", why, sizeof(why)), -1);
}

/* A pinentry that speaks just enough Assuan; MODE picks its answer to GETPIN. */
static const char script[] =
        "#!/bin/sh\n"
        "echo 'OK Pleased to meet you'\n"
        "while IFS= read -r line; do\n"
        "  case \"$line\" in\n"
        "    SETDESC*) printf '%s\\n' \"$line\" >> \"$PE_LOG\"; echo OK ;;\n"
        "    GETPIN) case \"$PE_MODE\" in\n"
        "      ok) echo '# a comment'; echo 'S PASSPHRASE'; printf 'D %s\\nOK\\n' \"$PE_PIN\" ;;\n"
        "      cancel) echo 'ERR 83886179 Operation cancelled <Pinentry>' ;;\n"
        "      empty) echo OK ;;\n"
        "      slow) sleep 5; echo OK ;;\n"
        "      esac ;;\n"
        "    BYE) echo 'OK closing connection'; exit 0 ;;\n"
        "    *) echo OK ;;\n"
        "  esac\n"
        "done\n";

static enum agent_pin_rc
ask_pinentry(const char *mode, const char *pe_pin, int retries, uint64_t deadline,
             struct agent_pin *pin)
{
	struct agent_pin_cfg cfg = { .source = AGENT_PIN_PINENTRY };
	struct agent_pin_ask ask = { "4821 Ký duyệt QĐ 123\n100%", "CN=Nguyen Van A",
		                     "0011223344556677", retries, deadline };
	char log[128];

	write_file("pinentry", script, 0700, cfg.program, sizeof(cfg.program));
	snprintf(log, sizeof(log), "%s/log", dir);
	setenv("PE_LOG", log, 1);
	setenv("PE_MODE", mode, 1);
	setenv("PE_PIN", pe_pin, 1);
	return agent_pin_get(&cfg, &ask, pin);
}

static void
pinentry_dialogue(void **state)
{
	struct agent_pin pin;
	char log[128], buf[2048] = "";
	FILE *f;

	(void)state;
	assert_int_equal(ask_pinentry("ok", "123456", 1, 0, &pin), AGENT_PIN_OK);
	assert_string_equal(pin.digits, "123456");
	agent_pin_wipe(&pin);
	/* The description reached pinentry escaped: newline as %0A, '%' as %25, and it shows the
	 * tries left with the last-try warning (PCSC.md 5.4). */
	snprintf(log, sizeof(log), "%s/log", dir);
	f = fopen(log, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	assert_non_null(
	        strstr(buf, "SETDESC 4821 Ký duyệt QĐ 123%0A100%25%0ACertificate: CN=Nguyen"));
	assert_non_null(strstr(buf, "Hash: 0011223344556677..."));
	assert_non_null(strstr(buf, "Tries left: 1 -- LAST TRY"));

	assert_int_equal(ask_pinentry("ok", "12%3456", 3, 0, &pin), AGENT_PIN_OK);
	assert_string_equal(pin.digits, "12456"); /* %34 is '4' */
	agent_pin_wipe(&pin);

	assert_int_equal(ask_pinentry("ok", "12ab56", 3, 0, &pin), AGENT_PIN_ERROR);
	assert_int_equal(pin.len, 0);
	assert_int_equal(ask_pinentry("cancel", "", 3, 0, &pin), AGENT_PIN_CANCELLED);
	assert_int_equal(ask_pinentry("empty", "", 3, 0, &pin), AGENT_PIN_CANCELLED);
}

static void
pinentry_past_its_deadline(void **state)
{
	struct agent_pin pin;
	uint64_t t0 = agent_now_ms();

	(void)state;
	assert_int_not_equal(ask_pinentry("slow", "", 3, t0 + 300, &pin), AGENT_PIN_OK);
	assert_int_equal(pin.len, 0);
	/* Ended at the deadline, the pinentry killed after a short grace: not its 5 s. */
	assert_true(agent_now_ms() - t0 < 3000);
}

static void
missing_pinentry(void **state)
{
	struct agent_pin_cfg cfg = { .source = AGENT_PIN_PINENTRY };
	struct agent_pin_ask ask = { "x", "CN=t", "00", 3, 0 };
	struct agent_pin pin;

	(void)state;
	snprintf(cfg.program, sizeof(cfg.program), "%s/no-such-pinentry", dir);
	assert_int_equal(agent_pin_get(&cfg, &ask, &pin), AGENT_PIN_ERROR);
}

static void
assuan_escape_bounds(void **state)
{
	char out[8];

	(void)state;
	assert_true(agent_assuan_escape("a%\n", out, sizeof(out)));
	assert_string_equal(out, "a%25%0A");
	assert_false(agent_assuan_escape("a%\nb", out, sizeof(out)));
}

static void
backoff_is_bounded_and_jittered(void **state)
{
	(void)state;
	assert_int_equal(agent_backoff_ms(0, 0), 750);
	assert_int_equal(agent_backoff_ms(0, 500), 1250);
	assert_int_equal(agent_backoff_ms(1, 0), 1500);
	assert_int_equal(agent_backoff_ms(4, 0), 12000);
	assert_int_equal(agent_backoff_ms(5, 0), 22500);
	assert_int_equal(agent_backoff_ms(40, 0), 22500);
	assert_true(agent_backoff_ms(40, 0xffffffffu) <= 37500);
	assert_true(agent_backoff_ms(3, 12345) >= 6000 && agent_backoff_ms(3, 12345) <= 10000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pin_file_mode_and_content, setup, teardown),
		cmocka_unit_test_setup_teardown(pinentry_dialogue, setup, teardown),
		cmocka_unit_test_setup_teardown(pinentry_past_its_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_pinentry, setup, teardown),
		cmocka_unit_test(assuan_escape_bounds),
		cmocka_unit_test(backoff_is_bounded_and_jittered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
