/* kyso-vcard: a virtual KYSO-PKI v1 token speaking vpcd's socket protocol (PCSC.md §1.1).
 * The card is the TCP client; vpcd inside pcscd listens on 127.0.0.1:PORT. Test use only. */
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kyso/card.h>

#include "vcard.h"

static volatile sig_atomic_t got_term, got_usr1;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
connect_vpcd(unsigned port)
{
	struct sockaddr_in a;
	int fd, one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* TCP_QUICKACK is not sticky: set it before every recv() so vpcd's two-write frames are not
 * held back by our delayed ACK (P3). */
static int
recv_all(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;
	int one = 1;

	while (got < n) {
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		r = recv(fd, buf + got, n - got, 0);
		if (r == 0)
			return -1;
		if (r < 0) {
			if (errno == EINTR && !got_term && !got_usr1)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Length and payload in one send() (PCSC.md §1.1). */
static int
send_frame(int fd, const uint8_t *p, size_t n)
{
	uint8_t buf[2 + 600];
	ssize_t w;

	if (n > sizeof(buf) - 2)
		return -1;
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, p, n);
	do
		w = send(fd, buf, n + 2, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)(n + 2) ? 0 : -1;
}

/* Serves one connection (one insertion). Returns 1 on a drop fault, 0 otherwise. */
static int
serve(struct vcard *v, int fd)
{
	uint8_t hdr[2], in[600], out[600];
	size_t len, out_len;
	enum vcard_action act;

	vcard_reset(v);
	while (!got_term && !got_usr1) {
		if (recv_all(fd, hdr, 2) != 0)
			return 0;
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len == 0 || len > sizeof(in))
			return 0; /* vpcd never sends this: treat as a broken link */
		if (recv_all(fd, in, len) != 0)
			return 0;
		act = vcard_frame(v, in, len, out, sizeof(out), &out_len);
		if (act == VCARD_DROP)
			return 1;
		if (got_term || got_usr1)
			return 0; /* pulled while it worked (slow signing): no answer */
		if (act == VCARD_ANSWER && send_frame(fd, out, out_len) != 0)
			return 0;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: kyso-vcard --port PORT --key KEY.pem --cert CERT.pem [--persist]\n"
	        "  [--pin N] [--puk N] [--pin-tries N] [--puk-tries N] [--state FILE] [--label S]\n"
	        "  [--t0] [--drop-on-ins XX[:N]] [--sign-delay-ms N] [--strict-le] [--6c-loop]\n"
	        "  [--61-loop] [--sw-on-ins XX=SSSS] [--pin-always] [--status-query-burns]\n"
	        "  [--reinsert-ms N]\n");
	exit(2);
}

static unsigned long
num(const char *s, unsigned long max, int base)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > max)
		usage();
	return v;
}

static void
parse_drop(struct vcard_cfg *c, const char *s)
{
	char buf[16], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	c->drop_nth = 1;
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon = '\0';
		c->drop_nth = (unsigned)num(colon + 1, 1000000, 10);
	}
	c->drop_ins = (int)num(buf, 0xFF, 16);
}

static void
parse_sw_rule(struct vcard_cfg *c, const char *s)
{
	char buf[16], *eq;

	snprintf(buf, sizeof(buf), "%s", s);
	if ((eq = strchr(buf, '=')) == NULL || c->n_sw_rules >= VCARD_MAX_SW_RULES)
		usage();
	*eq = '\0';
	c->sw_rule_ins[c->n_sw_rules] = (uint8_t)num(buf, 0xFF, 16);
	c->sw_rule_sw[c->n_sw_rules] = (uint16_t)num(eq + 1, 0xFFFF, 16);
	c->n_sw_rules++;
}

enum {
	O_PORT = 256,
	O_KEY,
	O_CERT,
	O_PIN,
	O_PUK,
	O_PINT,
	O_PUKT,
	O_STATE,
	O_LABEL,
	O_DROP,
	O_DELAY,
	O_SWRULE,
	O_REINSERT
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", 1, NULL, O_PORT },
		{ "key", 1, NULL, O_KEY },
		{ "cert", 1, NULL, O_CERT },
		{ "pin", 1, NULL, O_PIN },
		{ "puk", 1, NULL, O_PUK },
		{ "pin-tries", 1, NULL, O_PINT },
		{ "puk-tries", 1, NULL, O_PUKT },
		{ "state", 1, NULL, O_STATE },
		{ "label", 1, NULL, O_LABEL },
		{ "persist", 0, NULL, 'p' },
		{ "t0", 0, NULL, '0' },
		{ "drop-on-ins", 1, NULL, O_DROP },
		{ "sign-delay-ms", 1, NULL, O_DELAY },
		{ "strict-le", 0, NULL, 's' },
		{ "6c-loop", 0, NULL, 'c' },
		{ "61-loop", 0, NULL, '1' },
		{ "sw-on-ins", 1, NULL, O_SWRULE },
		{ "pin-always", 0, NULL, 'a' },
		{ "status-query-burns", 0, NULL, 'b' },
		{ "reinsert-ms", 1, NULL, O_REINSERT },
		{ NULL, 0, NULL, 0 },
	};
	struct vcard_cfg cfg = {
		.pin_tries = -1, .puk_tries = -1, .drop_ins = -1, .label = "KYSO VCARD"
	};
	struct sigaction sa;
	unsigned port = 0, reinsert_ms = 1500;
	bool persist = false;
	struct vcard *v;
	char err[256];
	int ch, fd;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_PORT:
			port = (unsigned)num(optarg, 65535, 10);
			break;
		case O_KEY:
			cfg.key_file = optarg;
			break;
		case O_CERT:
			cfg.cert_file = optarg;
			break;
		case O_PIN:
			cfg.pin = optarg;
			break;
		case O_PUK:
			cfg.puk = optarg;
			break;
		case O_PINT:
			cfg.pin_tries = (int)num(optarg, 3, 10);
			break;
		case O_PUKT:
			cfg.puk_tries = (int)num(optarg, 10, 10);
			break;
		case O_STATE:
			cfg.state_file = optarg;
			break;
		case O_LABEL:
			cfg.label = optarg;
			break;
		case 'p':
			persist = true;
			break;
		case '0':
			cfg.t0 = true;
			break;
		case O_DROP:
			parse_drop(&cfg, optarg);
			break;
		case O_DELAY:
			cfg.sign_delay_ms = (unsigned)num(optarg, 600000, 10);
			break;
		case 's':
			cfg.strict_le = true;
			break;
		case 'c':
			cfg.loop_6c = true;
			break;
		case '1':
			cfg.loop_61 = true;
			break;
		case O_SWRULE:
			parse_sw_rule(&cfg, optarg);
			break;
		case 'a':
			cfg.pin_always = true;
			break;
		case 'b':
			cfg.status_query_burns = true;
			break;
		case O_REINSERT:
			reinsert_ms = (unsigned)num(optarg, 600000, 10);
			break;
		default:
			usage();
		}
	}
	if (port == 0 || cfg.key_file == NULL || cfg.cert_file == NULL || optind != argc)
		usage();
	if ((v = vcard_new(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kyso-vcard: %s\n", err);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: recv() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "kyso-vcard: port %u, %s\n", port, cfg.t0 ? "T=0" : "T=1");
	while (!got_term) {
		if ((fd = connect_vpcd(port)) < 0) {
			sleep_ms(100); /* vpcd not listening yet (or pcscd restarting) */
			continue;
		}
		fprintf(stderr, "kyso-vcard: inserted\n");
		if (serve(v, fd) == 1) {
			fprintf(stderr, "kyso-vcard: dropped on fault, re-inserting in %u ms\n",
			        reinsert_ms);
			close(fd);
			if (!persist)
				break;
			sleep_ms(reinsert_ms);
			continue;
		}
		close(fd);
		if (got_usr1) {
			got_usr1 = 0;
			fprintf(stderr, "kyso-vcard: pulled (SIGUSR1), re-inserting\n");
			sleep_ms(500);
			continue;
		}
		fprintf(stderr, "kyso-vcard: connection closed\n");
		if (!persist)
			break;
		sleep_ms(100);
	}
	vcard_free(v);
	return 0;
}
