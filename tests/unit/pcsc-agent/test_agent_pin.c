/* Unit tests of the agent's PIN sources (PCSC.md 5.4): the PIN file rules (mode exactly 0600,
 * owner, no symlink, digits only, re-read per request), the pinentry dialogue with a scripted
 * pinentry (OK, cancel, percent escapes, a dialogue past its deadline), the tty prompt on a
 * pseudo-terminal (prompt text, echo off while the PIN is typed and restored after, empty line
 * and end of input as a cancel), Assuan escaping and the reconnect back-off. */
#define _GNU_SOURCE /* ptsname_r */
#include <sys/stat.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

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

/* ---- tty on a pseudo-terminal ------------------------------------------------------------- */

struct tty_ask {
	struct agent_pin_cfg cfg;
	struct agent_pin pin;
	enum agent_pin_rc rc;
};

static void *
tty_ask_run(void *arg)
{
	struct tty_ask *t = arg;
	struct agent_pin_ask ask = { "4821 Ký duyệt QĐ 123", "CN=Nguyen Van An", "0011223344556677",
		                     2, 0 };

	t->rc = agent_pin_get(&t->cfg, &ask, &t->pin);
	return NULL;
}

/* Appends what the terminal printed (the master side) to out; waits at most wait_ms for the
 * first bytes. Returns false when nothing came. */
static bool
tty_output(int master, char *out, size_t cap, int wait_ms)
{
	struct pollfd p = { master, POLLIN, 0 };
	size_t have = strlen(out);
	bool got = false;

	while (have + 1 < cap && poll(&p, 1, got ? 0 : wait_ms) > 0) {
		ssize_t n = read(master, out + have, cap - 1 - have);

		if (n <= 0)
			break;
		have += (size_t)n;
		out[have] = '\0';
		got = true;
	}
	return got;
}

static bool
echo_on(int slave)
{
	struct termios tio;

	assert_int_equal(tcgetattr(slave, &tio), 0);
	return (tio.c_lflag & ECHO) != 0;
}

/* Runs the tty source against a fresh pty, types `typed` once the prompt is up with echo off,
 * and returns what the source answered; out gets everything the terminal showed. */
static enum agent_pin_rc
tty_dialogue(const char *typed, struct agent_pin *pin, char *out, size_t cap)
{
	struct tty_ask t = { .cfg = { .source = AGENT_PIN_TTY } };
	pthread_t th;
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave, i;

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_int_equal(ptsname_r(master, t.cfg.tty, sizeof(t.cfg.tty)), 0);
	/* Our own slave fd: to watch the termios the source sets, and to keep the pty open. */
	slave = open(t.cfg.tty, O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_true(echo_on(slave));
	out[0] = '\0';
	assert_int_equal(pthread_create(&th, NULL, tty_ask_run, &t), 0);
	for (i = 0; i < 100 && strstr(out, "PIN: ") == NULL; i++)
		tty_output(master, out, cap, 100);
	assert_non_null(strstr(out, "PIN: "));
	/* The prompt is written just before echo goes off (with the input flushed): type only
	 * once it is off, as a user at the terminal would after the prompt. */
	for (i = 0; i < 500 && echo_on(slave); i++) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
	}
	assert_false(echo_on(slave)); /* ECHO cleared while the PIN is read */
	assert_int_equal(write(master, typed, strlen(typed)), (ssize_t)strlen(typed));
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(echo_on(slave)); /* restored after */
	tty_output(master, out, cap, 0);
	close(slave);
	close(master);
	*pin = t.pin;
	OPENSSL_cleanse(&t.pin, sizeof(t.pin));
	return t.rc;
}

static void
assert_wiped(const struct agent_pin *pin)
{
	assert_int_equal(pin->len, 0);
	for (size_t i = 0; i < sizeof(pin->digits); i++)
		assert_int_equal(pin->digits[i], 0);
}

static void
tty_prompt_without_echo(void **state)
{
	struct agent_pin pin;
	char out[4096];
	const char *prompt;

	(void)state;
	assert_int_equal(tty_dialogue("4321\n", &pin, out, sizeof(out)), AGENT_PIN_OK);
	assert_int_equal(pin.len, 4);
	assert_string_equal(pin.digits, "4321");
	agent_pin_wipe(&pin);
	/* What the dialogue shows (PCSC.md 5.4), then the prompt. */
	assert_non_null(strstr(out, "4821 Ký duyệt QĐ 123"));
	assert_non_null(strstr(out, "Certificate: CN=Nguyen Van An"));
	assert_non_null(strstr(out, "Hash: 0011223344556677..."));
	assert_non_null(strstr(out, "Tries left: 2"));
	assert_non_null(prompt = strstr(out, "PIN: "));
	/* Nothing typed came back on the screen: after the prompt only the closing newline. */
	assert_null(strstr(out, "4321"));
	assert_null(strpbrk(prompt + 5, "0123456789"));
	assert_non_null(strchr(prompt + 5, '\n'));

	/* A carriage return ends the line as well. */
	assert_int_equal(tty_dialogue("98765432\r", &pin, out, sizeof(out)), AGENT_PIN_OK);
	assert_string_equal(pin.digits, "98765432");
	agent_pin_wipe(&pin);
}

static void
tty_cancel_and_end_of_input(void **state)
{
	struct agent_pin pin;
	char out[4096], eof[2] = { 0x04, 0 }; /* VEOF, ^D: read() returns 0 in canonical mode */

	(void)state;
	/* An empty line is the user's cancel: 401/4011 upstream, nothing kept. */
	assert_int_equal(tty_dialogue("\n", &pin, out, sizeof(out)), AGENT_PIN_CANCELLED);
	assert_wiped(&pin);
	/* End of input (^D) before any digit: a cancel too. */
	assert_int_equal(tty_dialogue(eof, &pin, out, sizeof(out)), AGENT_PIN_CANCELLED);
	assert_wiped(&pin);
	/* Not a PIN (too short, not digits): an error, and the typed bytes are not kept. */
	assert_int_equal(tty_dialogue("12\n", &pin, out, sizeof(out)), AGENT_PIN_ERROR);
	assert_wiped(&pin);
	assert_int_equal(tty_dialogue("12ab56\n", &pin, out, sizeof(out)), AGENT_PIN_ERROR);
	assert_wiped(&pin);
}

static void
tty_missing_terminal(void **state)
{
	struct agent_pin_cfg cfg = { .source = AGENT_PIN_TTY };
	struct agent_pin_ask ask = { "x", "CN=t", "00", 3, 0 };
	struct agent_pin pin;

	(void)state;
	snprintf(cfg.tty, sizeof(cfg.tty), "%s/no-such-tty", dir);
	assert_int_equal(agent_pin_get(&cfg, &ask, &pin), AGENT_PIN_ERROR);
	assert_wiped(&pin);
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
		cmocka_unit_test(tty_prompt_without_echo),
		cmocka_unit_test(tty_cancel_and_end_of_input),
		cmocka_unit_test_setup_teardown(tty_missing_terminal, setup, teardown),
		cmocka_unit_test(assuan_escape_bounds),
		cmocka_unit_test(backoff_is_bounded_and_jittered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
