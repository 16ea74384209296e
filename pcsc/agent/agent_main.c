/* agent_main.c -- kyso-pcsc-agent: options, the loop, the order of start and stop. */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent_core.h"

static void
usage(FILE *f)
{
	fputs("usage: kyso-pcsc-agent --url wss://HOST:PORT/v1/agent --ca FILE --agent-id ID\n"
	      "         [--key-file FILE | env KYSO_AGENT_KEY] [--cert FILE --cert-key FILE]\n"
	      "         [--pin-source tty|pinentry|pin-file] [--pinentry PROGRAM]\n"
	      "         [--pin-file FILE]   (tests only: mode 0600, owned by this user)\n"
	      "         [--backend pcsc|soft] [--soft-token key=F,cert=F[,serial=S][,pin=P]]\n"
	      "       kyso-pcsc-agent --bench-apdu N   (APDU round trips on the first token)\n"
	      "The agent key is read from a 0600 file or the environment, never from argv.\n",
	      f);
}

/* The API key: first line of a 0600 file (same rule as the PIN file), or KYSO_AGENT_KEY. */
static int
read_key(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	char why[128];
	const char *env = getenv("KYSO_AGENT_KEY");
	int fd;
	ssize_t n;

	if (path == NULL) {
		if (env == NULL)
			return 0; /* mTLS only */
		snprintf(out, cap, "%s", env);
		return 0;
	}
	if (agent_pin_file_check(path, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "key file %s refused: %s", path, why);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return snprintf(err, errlen, "cannot open %s", path), -1;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n <= 0)
		return snprintf(err, errlen, "empty key file %s", path), -1;
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

struct opts {
	struct agent_link_cfg link;
	const char *key_file;
	const char *backend;
	const char *soft;
};

static int
parse_pin_source(const char *v, struct agent_pin_cfg *pin)
{
	if (strcmp(v, "tty") == 0)
		pin->source = AGENT_PIN_TTY;
	else if (strcmp(v, "pinentry") == 0)
		pin->source = AGENT_PIN_PINENTRY;
	else if (strcmp(v, "pin-file") == 0)
		pin->source = AGENT_PIN_FILE;
	else
		return -1;
	return 0;
}

static int
parse_args(int argc, char **argv, struct agent *a, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (v == NULL)
			return -1;
		i++;
		if (strcmp(k, "--url") == 0)
			snprintf(o->link.url, sizeof(o->link.url), "%s", v);
		else if (strcmp(k, "--ca") == 0)
			snprintf(o->link.ca_file, sizeof(o->link.ca_file), "%s", v);
		else if (strcmp(k, "--cert") == 0)
			snprintf(o->link.cert_file, sizeof(o->link.cert_file), "%s", v);
		else if (strcmp(k, "--cert-key") == 0)
			snprintf(o->link.cert_key, sizeof(o->link.cert_key), "%s", v);
		else if (strcmp(k, "--key-file") == 0)
			o->key_file = v;
		else if (strcmp(k, "--agent-id") == 0)
			snprintf(a->agent_id, sizeof(a->agent_id), "%s", v);
		else if (strcmp(k, "--pin-source") == 0) {
			if (parse_pin_source(v, &a->pin) != 0)
				return -1;
		} else if (strcmp(k, "--pinentry") == 0)
			snprintf(a->pin.program, sizeof(a->pin.program), "%s", v);
		else if (strcmp(k, "--pin-file") == 0)
			snprintf(a->pin.file, sizeof(a->pin.file), "%s", v);
		else if (strcmp(k, "--backend") == 0)
			o->backend = v;
		else if (strcmp(k, "--soft-token") == 0)
			o->soft = v;
		else if (strcmp(k, "--bench-apdu") == 0)
			a->bench_rounds = (unsigned)strtoul(v, NULL, 10);
		else
			return -1;
	}
	if (a->bench_rounds > 0) /* the benchmark needs no gateway */
		return a->bench_rounds <= 100000 ? 0 : -1;
	return o->link.url[0] != '\0' && a->agent_id[0] != '\0' ? 0 : -1;
}

/* PIN sources and their files are checked before anything connects (PCSC.md 5.4). */
static int
check_pin_cfg(struct agent_pin_cfg *pin, char *err, size_t errlen)
{
	char why[128];

	if (pin->source == 0)
		pin->source = isatty(0) ? AGENT_PIN_TTY : AGENT_PIN_PINENTRY;
	if (pin->source == AGENT_PIN_PINENTRY && pin->program[0] == '\0')
		snprintf(pin->program, sizeof(pin->program), "pinentry");
	if (pin->source == AGENT_PIN_FILE &&
	    agent_pin_file_check(pin->file, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "PIN file refused: %s", why);
		return -1;
	}
	return 0;
}

static int
make_backend(struct agent *a, const struct opts *o, char *err, size_t errlen)
{
	const char *b = o->backend != NULL ? o->backend : o->soft != NULL ? "soft" : "pcsc";

	if (strcmp(b, "soft") == 0) {
		if (o->soft == NULL)
			return snprintf(err, errlen, "--backend soft needs --soft-token"), -1;
		return agent_soft_new(&a->be, o->soft, err, errlen);
	}
	if (strcmp(b, "pcsc") == 0) {
#ifdef KYSO_AGENT_HAVE_CARD
		return agent_card_new(&a->be, err, errlen);
#else
		snprintf(err, errlen, "this build has no PC/SC card engine (pcsc/ card library)");
		return -1;
#endif
	}
	snprintf(err, errlen, "unknown backend %s", b);
	return -1;
}

/* No core dumps: a PIN may be in memory during a dialogue (PCSC.md 5.4). */
static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
	static struct agent a; /* large (tokens): not on the stack */
	struct opts o;
	struct agent_link_cbs cbs = { agent_on_up, agent_on_down, agent_on_frame, &a };
	char err[256];
	uv_loop_t loop;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	harden();
	if (parse_args(argc, argv, &a, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (check_pin_cfg(&a.pin, err, sizeof(err)) != 0 ||
	    read_key(o.key_file, o.link.api_key, sizeof(o.link.api_key), err, sizeof(err)) != 0 ||
	    make_backend(&a, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "kyso-pcsc-agent: %s\n", err);
		OPENSSL_cleanse(o.link.api_key, sizeof(o.link.api_key));
		return 2;
	}
	uv_loop_init(&loop);
	a.loop = &loop;
	if (agent_core_start(&a, err, sizeof(err)) != 0 ||
	    (a.bench_rounds == 0 &&
	     (a.link = agent_link_new(&loop, &o.link, &cbs, err, sizeof(err))) == NULL)) {
		fprintf(stderr, "kyso-pcsc-agent: %s\n", err);
		rc = 1;
	} else {
		fprintf(stderr, "kyso-pcsc-agent: msg=\"started\" agent_id=%s backend=%s pin=%s\n",
		        a.agent_id, a.be.name, agent_pin_source_name(a.pin.source));
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	OPENSSL_cleanse(o.link.api_key, sizeof(o.link.api_key));
	agent_link_free(a.link);
	a.link = NULL;
	agent_core_stop(&a);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		fprintf(stderr, "kyso-pcsc-agent: msg=\"handles left open at exit\"\n");
	fprintf(stderr, "kyso-pcsc-agent: msg=\"stopped\"\n");
	return rc != 0 ? rc : a.exit_code;
}
