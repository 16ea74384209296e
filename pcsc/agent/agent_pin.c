/* agent_pin.c -- the PIN sources of PCSC.md 5.4, called on a backend's worker thread: a tty
 * prompt without echo, an Assuan pinentry program, and (tests only) a 0600 PIN file. Every
 * buffer that held PIN bytes is wiped before it goes out of scope, on every path; PINs are
 * never logged and never cached. */
#define _GNU_SOURCE /* pipe2 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"

extern char **environ;

#define DESC_MAX  1024
#define LINE_MAX_ 1100 /* an Assuan line is at most 1000 bytes */

const char *
agent_pin_source_name(enum agent_pin_source s)
{
	switch (s) {
	case AGENT_PIN_TTY:
		return "tty";
	case AGENT_PIN_PINENTRY:
		return "pinentry";
	case AGENT_PIN_FILE:
		return "pin-file";
	}
	return "none";
}

uint64_t
agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
agent_pin_wipe(struct agent_pin *pin)
{
	OPENSSL_cleanse(pin, sizeof(*pin));
}

/* Accepts 4..AGENT_PIN_MAX digits (KYSO-PKI v1 PINs are 4-8 digits; PCSC.md 4). */
static bool
pin_take(struct agent_pin *pin, const char *s, size_t n)
{
	if (n < 4 || n > AGENT_PIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	memcpy(pin->digits, s, n);
	pin->digits[n] = '\0';
	pin->len = (uint8_t)n;
	return true;
}

static void
describe(const struct agent_pin_ask *ask, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s\nCertificate: %s\nHash: %s...", ask->display,
	                 ask->subject != NULL ? ask->subject : "?",
	                 ask->hash_hex_prefix != NULL ? ask->hash_hex_prefix : "?");

	if (n < 0 || (size_t)n >= cap)
		return;
	if (ask->retries_left >= 0)
		snprintf(out + n, cap - (size_t)n, "\nTries left: %d%s", ask->retries_left,
		         ask->retries_left == 1
		                 ? " -- LAST TRY: a wrong PIN blocks the token (recovery at the Sở)"
		                 : "");
}

/* ---- PIN file (tests only) ---------------------------------------------------------------- */

static int
check_fd(int fd, char *why, size_t whylen)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return -1;
	}
	if ((st.st_mode & 07777) != 0600) {
		snprintf(why, whylen, "mode %04o, must be 0600", (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, whylen, "owned by uid %u, not by the agent's user",
		         (unsigned)st.st_uid);
		return -1;
	}
	return 0;
}

int
agent_pin_file_check(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return -1;
	}
	rc = check_fd(fd, why, whylen);
	close(fd);
	return rc;
}

/* Re-read on every request (PCSC.md 5.4): a test may change the PIN between jobs. */
static enum agent_pin_rc
pin_from_file(const char *path, struct agent_pin *pin)
{
	char buf[64], why[128];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;
	size_t len = 0;
	enum agent_pin_rc rc = AGENT_PIN_ERROR;

	if (fd < 0 || check_fd(fd, why, sizeof(why)) != 0) {
		if (fd >= 0)
			close(fd);
		return AGENT_PIN_ERROR;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		while (len < (size_t)n && buf[len] != '\n' && buf[len] != '\r')
			len++;
		if (pin_take(pin, buf, len))
			rc = AGENT_PIN_OK;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* ---- tty ---------------------------------------------------------------------------------- */

/* Reads one line with echo off on `path` (the controlling terminal unless a test names a pty);
 * an empty line or end of input is a cancel. */
static enum agent_pin_rc
pin_from_tty(const char *path, const struct agent_pin_ask *ask, struct agent_pin *pin)
{
	char desc[DESC_MAX], buf[AGENT_PIN_MAX + 2];
	struct termios saved, quiet;
	size_t len = 0;
	bool done = false;
	int fd = open(path[0] != '\0' ? path : "/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	enum agent_pin_rc rc = AGENT_PIN_ERROR;

	if (fd < 0)
		return AGENT_PIN_ERROR;
	if (tcgetattr(fd, &saved) != 0) {
		close(fd);
		return AGENT_PIN_ERROR;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	describe(ask, desc, sizeof(desc));
	dprintf(fd, "\n%s\nPIN: ", desc);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0) {
		while (!done) {
			char c;
			ssize_t n = read(fd, &c, 1);

			if (n <= 0 || c == '\n' || c == '\r')
				done = true;
			else if (len < sizeof(buf))
				buf[len++] = c;
			c = 0;
		}
		tcsetattr(fd, TCSAFLUSH, &saved);
		dprintf(fd, "\n");
		rc = len == 0                  ? AGENT_PIN_CANCELLED
		     : pin_take(pin, buf, len) ? AGENT_PIN_OK
		                               : AGENT_PIN_ERROR;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* ---- pinentry (Assuan) -------------------------------------------------------------------- */

bool
agent_assuan_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; *in != '\0'; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '%' || c < 0x20) {
			if (o + 3 >= cap)
				return false;
			snprintf(out + o, 4, "%%%02X", c);
			o += 3;
		} else {
			if (o + 1 >= cap)
				return false;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return true;
}

struct assuan {
	pid_t pid;
	int to, from; /* our ends: write commands, read answers */
	char buf[LINE_MAX_];
	size_t have;
	uint64_t deadline_ms;
};

/* Reads one line (without LF) into line; false on EOF, error, overlong line or deadline. */
static bool
assuan_line(struct assuan *a, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(a->buf, '\n', a->have);

		if (nl != NULL) {
			size_t n = (size_t)(nl - a->buf);

			if (n >= cap)
				return false;
			memcpy(line, a->buf, n);
			line[n] = '\0';
			memmove(a->buf, nl + 1, a->have - n - 1);
			a->have -= n + 1;
			OPENSSL_cleanse(a->buf + a->have, sizeof(a->buf) - a->have);
			return true;
		}
		if (a->have == sizeof(a->buf))
			return false;
		uint64_t now = agent_now_ms();
		int wait = -1;
		if (a->deadline_ms != 0) {
			if (now >= a->deadline_ms)
				return false;
			wait = (int)(a->deadline_ms - now);
		}
		struct pollfd p = { a->from, POLLIN, 0 };
		if (poll(&p, 1, wait) <= 0)
			return false;
		ssize_t r = read(a->from, a->buf + a->have, sizeof(a->buf) - a->have);
		if (r <= 0)
			return false;
		a->have += (size_t)r;
	}
}

/* Skips status and comment lines; returns the first "OK", "ERR" or "D" line. */
static bool
assuan_answer(struct assuan *a, char *line, size_t cap)
{
	while (assuan_line(a, line, cap))
		if (line[0] != '#' && strncmp(line, "S ", 2) != 0)
			return true;
	return false;
}

static bool
assuan_cmd(struct assuan *a, const char *cmd)
{
	char line[LINE_MAX_];
	size_t n = strlen(cmd);

	if (write(a->to, cmd, n) != (ssize_t)n || write(a->to, "\n", 1) != 1)
		return false;
	return assuan_answer(a, line, sizeof(line)) && strncmp(line, "OK", 2) == 0;
}

static bool
assuan_spawn(struct assuan *a, const char *program)
{
	int in[2], out[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[] = { (char *)(uintptr_t)program, NULL };
	int rc;

	if (pipe2(in, O_CLOEXEC) != 0)
		return false;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]), close(in[1]);
		return false;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	/* Its own process group, so that a stuck dialogue is killed with all its children. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawnp(&a->pid, program, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	a->to = in[1];
	a->from = out[0];
	if (rc != 0) {
		close(a->to), close(a->from);
		return false;
	}
	return true;
}

static void
assuan_end(struct assuan *a)
{
	int st;

	if (write(a->to, "BYE\n", 4) != 4) { /* it may be gone already */
	}
	close(a->to);
	close(a->from);
	/* A pinentry that does not leave at BYE within a second is killed, with its group. */
	for (int i = 0; i < 100 && waitpid(a->pid, &st, WNOHANG) == 0; i++) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
		if (i == 99) {
			kill(-a->pid, SIGKILL);
			waitpid(a->pid, &st, 0);
		}
	}
	OPENSSL_cleanse(a->buf, sizeof(a->buf));
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                              : -1;
}

/* "D <percent-escaped data>" -> digits. */
static bool
assuan_pin(const char *data, struct agent_pin *pin)
{
	char raw[AGENT_PIN_MAX + 1];
	size_t n = 0;
	bool ok = true;

	for (size_t i = 0; ok && data[i] != '\0'; i++) {
		char c = data[i];

		if (c == '%') {
			int hi = hexval(data[i + 1]), lo = hi < 0 ? -1 : hexval(data[i + 2]);

			ok = lo >= 0;
			c = (char)(ok ? hi * 16 + lo : 0);
			i += 2;
		}
		if (ok && n < sizeof(raw))
			raw[n++] = c;
		else
			ok = false;
	}
	ok = ok && pin_take(pin, raw, n);
	OPENSSL_cleanse(raw, sizeof(raw));
	return ok;
}

static enum agent_pin_rc
pin_from_pinentry(const char *program, const struct agent_pin_ask *ask, struct agent_pin *pin)
{
	struct assuan a = { .deadline_ms = ask->deadline_ms };
	char desc[DESC_MAX], esc[3 * DESC_MAX], cmd[3 * DESC_MAX + 16], line[LINE_MAX_];
	enum agent_pin_rc rc = AGENT_PIN_ERROR;

	if (!assuan_spawn(&a, program))
		return AGENT_PIN_ERROR;
	describe(ask, desc, sizeof(desc));
	if (!assuan_answer(&a, line, sizeof(line)) || strncmp(line, "OK", 2) != 0 ||
	    !agent_assuan_escape(desc, esc, sizeof(esc)))
		goto out;
	snprintf(cmd, sizeof(cmd), "SETDESC %s", esc);
	if (!assuan_cmd(&a, cmd) || !assuan_cmd(&a, "SETPROMPT PIN:") ||
	    !assuan_cmd(&a, "SETTITLE kyso"))
		goto out;
	if (write(a.to, "GETPIN\n", 7) != 7 || !assuan_answer(&a, line, sizeof(line)))
		goto out;
	if (strncmp(line, "ERR", 3) == 0) {
		rc = AGENT_PIN_CANCELLED; /* 83886179 "Operation cancelled", or the window closed */
	} else if (strncmp(line, "D ", 2) == 0 && assuan_pin(line + 2, pin)) {
		OPENSSL_cleanse(line, sizeof(line));
		if (assuan_answer(&a, line, sizeof(line)) && strncmp(line, "OK", 2) == 0)
			rc = AGENT_PIN_OK;
	} else if (strncmp(line, "OK", 2) == 0) {
		rc = AGENT_PIN_CANCELLED; /* an empty PIN */
	}
out:
	OPENSSL_cleanse(line, sizeof(line));
	assuan_end(&a);
	return rc;
}

enum agent_pin_rc
agent_pin_get(const struct agent_pin_cfg *cfg, const struct agent_pin_ask *ask,
              struct agent_pin *pin)
{
	enum agent_pin_rc rc = AGENT_PIN_ERROR;

	/* Keep the PIN out of swap while it exists (best effort: RLIMIT_MEMLOCK may refuse). */
	(void)mlock(pin, sizeof(*pin));
	memset(pin, 0, sizeof(*pin));
	switch (cfg->source) {
	case AGENT_PIN_TTY:
		rc = pin_from_tty(cfg->tty, ask, pin);
		break;
	case AGENT_PIN_PINENTRY:
		rc = pin_from_pinentry(cfg->program, ask, pin);
		break;
	case AGENT_PIN_FILE:
		rc = pin_from_file(cfg->file, pin);
		break;
	}
	if (rc != AGENT_PIN_OK)
		agent_pin_wipe(pin);
	return rc;
}
