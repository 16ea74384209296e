/* agent_link.c -- lws client on the agent's loop (ARCHITECTURE.md 2: lws on libuv as a foreign
 * loop, one lws_write per WRITEABLE from a bounded queue). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "agent_link.h"

#define LINK_PROTOCOL  "kyso.agent.v1"
#define LINK_OUT_MAX   64
#define LINK_FRAME_MAX 65536 /* gateway messages are small: sign, cancel, ping, pong */

struct outmsg {
	struct outmsg *next;
	size_t len;
	unsigned char buf[];
};

struct agent_link {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct lws *wsi;
	struct agent_link_cbs cbs;
	char url[512];    /* as given, for logs */
	char urlbuf[512]; /* lws_parse_uri cuts this one up; host points into it */
	const char *host;
	char path[512];
	int port;
	bool tls;
	char auth[192]; /* "Bearer kyso_..." */
	bool up, connecting, dying;
	unsigned attempt;
	uv_timer_t retry;
	struct outmsg *out_head, *out_tail;
	int out_count;
	char *rx;
	size_t rx_len;
	bool rx_over;
};

unsigned
agent_backoff_ms(unsigned attempt, unsigned rnd)
{
	unsigned base = attempt >= 5 ? 30000u : 1000u << attempt;

	if (base > 30000u)
		base = 30000u;
	/* +-25 %: agents that lost the gateway together do not return together. */
	return base - base / 4 + rnd % (base / 2 + 1);
}

static void
out_clear(struct agent_link *l)
{
	while (l->out_head != NULL) {
		struct outmsg *m = l->out_head;

		l->out_head = m->next;
		free(m);
	}
	l->out_tail = NULL;
	l->out_count = 0;
}

static void connect_now(struct agent_link *l);

static void
retry_cb(uv_timer_t *t)
{
	connect_now(t->data);
}

static void
schedule_retry(struct agent_link *l)
{
	unsigned rnd = 0, ms;

	if (l->dying)
		return;
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		rnd = 0;
	ms = agent_backoff_ms(l->attempt++, rnd);
	fprintf(stderr, "kyso-pcsc-agent: msg=\"reconnecting\" in_ms=%u\n", ms);
	uv_timer_start(&l->retry, retry_cb, ms, 0);
}

static void
link_lost(struct agent_link *l)
{
	bool was_up = l->up;

	l->wsi = NULL;
	l->up = false;
	l->connecting = false;
	out_clear(l);
	free(l->rx);
	l->rx = NULL;
	l->rx_len = 0;
	if (was_up && l->cbs.down != NULL)
		l->cbs.down(l->cbs.arg);
	schedule_retry(l);
}

static void
connect_now(struct agent_link *l)
{
	struct lws_client_connect_info ci;

	if (l->dying || l->connecting || l->up)
		return;
	memset(&ci, 0, sizeof(ci));
	ci.context = l->ctx;
	ci.address = l->host;
	ci.port = l->port;
	ci.path = l->path;
	ci.host = l->host;
	ci.origin = l->host;
	ci.protocol = LINK_PROTOCOL;
	ci.ssl_connection = l->tls ? LCCSCF_USE_SSL : 0;
	ci.pwsi = &l->wsi;
	l->connecting = true;
	if (lws_client_connect_via_info(&ci) == NULL) {
		l->connecting = false;
		schedule_retry(l);
	}
}

static int
on_receive(struct agent_link *l, struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		l->rx_len = 0;
		l->rx_over = false;
	}
	if (l->rx_len + len > LINK_FRAME_MAX) {
		l->rx_over = true; /* counted out, refused below */
	} else {
		if (l->rx == NULL && (l->rx = malloc(LINK_FRAME_MAX)) == NULL)
			return -1;
		memcpy(l->rx + l->rx_len, in, len);
		l->rx_len += len;
	}
	if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
		if (!l->rx_over && !lws_frame_is_binary(wsi) && l->cbs.frame != NULL)
			l->cbs.frame(l->cbs.arg, l->rx, l->rx_len);
		l->rx_len = 0;
	}
	return 0;
}

static int
on_writeable(struct agent_link *l, struct lws *wsi)
{
	struct outmsg *m = l->out_head;
	int n;

	if (m == NULL)
		return 0;
	l->out_head = m->next;
	if (l->out_head == NULL)
		l->out_tail = NULL;
	l->out_count--;
	n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
	free(m);
	if (n < 0)
		return -1;
	if (l->out_head != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

static int
add_auth(struct agent_link *l, struct lws *wsi, void *in, size_t len)
{
	unsigned char **p = in, *end = *p + len;

	if (l->auth[0] == '\0')
		return 0; /* mTLS only */
	return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
	                                    (const unsigned char *)l->auth, (int)strlen(l->auth), p,
	                                    end)
	               ? -1
	               : 0;
}

static int
link_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct agent_link *l = lws_context_user(lws_get_context(wsi));

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return add_auth(l, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		l->connecting = false;
		l->up = true;
		l->wsi = wsi;
		fprintf(stderr, "kyso-pcsc-agent: msg=\"connected\" url=%s\n", l->url);
		if (l->cbs.up != NULL)
			l->cbs.up(l->cbs.arg);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(l, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (l->dying || !l->up)
			return -1;
		return on_writeable(l, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fprintf(stderr, "kyso-pcsc-agent: msg=\"connect failed\" err=\"%s\"\n",
		        in != NULL ? (const char *)in : "?");
		link_lost(l);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		fprintf(stderr, "kyso-pcsc-agent: msg=\"link closed\"\n");
		link_lost(l);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ LINK_PROTOCOL, link_cb, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
lws_log_emit(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "kyso-pcsc-agent: src=lws msg=\"%.*s\"\n", (int)strcspn(line, "\r\n"),
	        line);
}

static int
parse_url(struct agent_link *l, char *err, size_t errlen)
{
	const char *prot = NULL, *path = NULL;

	snprintf(l->urlbuf, sizeof(l->urlbuf), "%s", l->url);
	if (lws_parse_uri(l->urlbuf, &prot, &l->host, &l->port, &path) != 0 || l->host[0] == '\0') {
		snprintf(err, errlen, "cannot parse the gateway URL");
		return -1;
	}
	l->tls = strcmp(prot, "wss") == 0;
	if (!l->tls && strcmp(prot, "ws") != 0) {
		snprintf(err, errlen, "the gateway URL must be wss:// (or ws:// to loopback)");
		return -1;
	}
	/* PROTOCOL.md 1: TLS is mandatory except on loopback in development. */
	if (!l->tls && strcmp(l->host, "127.0.0.1") != 0 && strcmp(l->host, "localhost") != 0) {
		snprintf(err, errlen, "ws:// only to a loopback gateway");
		return -1;
	}
	snprintf(l->path, sizeof(l->path), "/%s", path != NULL ? path : "");
	return 0;
}

struct agent_link *
agent_link_new(uv_loop_t *loop, struct agent_link_cfg *cfg, const struct agent_link_cbs *cbs,
               char *err, size_t errlen)
{
	static void *loops[1];
	struct lws_context_creation_info info;
	struct agent_link *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return snprintf(err, errlen, "out of memory"), NULL;
	l->loop = loop;
	l->cbs = *cbs;
	snprintf(l->url, sizeof(l->url), "%s", cfg->url);
	if (cfg->api_key[0] != '\0')
		snprintf(l->auth, sizeof(l->auth), "Bearer %s", cfg->api_key);
	OPENSSL_cleanse(cfg->api_key, sizeof(cfg->api_key));
	if (parse_url(l, err, errlen) != 0) {
		OPENSSL_cleanse(l->auth, sizeof(l->auth));
		free(l);
		return NULL;
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	loops[0] = loop;
	info.foreign_loops = loops;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = l;
	if (cfg->ca_file[0] != '\0')
		info.client_ssl_ca_filepath = cfg->ca_file;
	if (cfg->cert_file[0] != '\0') {
		info.client_ssl_cert_filepath = cfg->cert_file;
		info.client_ssl_private_key_filepath = cfg->cert_key;
	}
	l->ctx = lws_create_context(&info);
	if (l->ctx == NULL) {
		snprintf(err, errlen, "cannot create the lws client context (CA or client cert?)");
		OPENSSL_cleanse(l->auth, sizeof(l->auth));
		free(l);
		return NULL;
	}
	uv_timer_init(loop, &l->retry);
	l->retry.data = l;
	connect_now(l);
	return l;
}

bool
agent_link_send(struct agent_link *l, const char *txt, size_t len)
{
	struct outmsg *m;

	if (!l->up || l->wsi == NULL || l->out_count >= LINK_OUT_MAX)
		return false;
	if ((m = malloc(sizeof(*m) + LWS_PRE + len)) == NULL)
		return false;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, txt, len);
	if (l->out_tail != NULL)
		l->out_tail->next = m;
	else
		l->out_head = m;
	l->out_tail = m;
	l->out_count++;
	lws_callback_on_writable(l->wsi);
	return true;
}

bool
agent_link_is_up(const struct agent_link *l)
{
	return l->up;
}

void
agent_link_drop(struct agent_link *l)
{
	if (l->wsi != NULL)
		lws_set_timeout(l->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

void
agent_link_reset_backoff(struct agent_link *l)
{
	l->attempt = 0;
}

static void
link_free_cb(uv_handle_t *h)
{
	free(h->data);
}

void
agent_link_free(struct agent_link *l)
{
	if (l == NULL)
		return;
	l->dying = true;
	uv_timer_stop(&l->retry);
	lws_context_destroy(l->ctx);
	out_clear(l);
	free(l->rx);
	OPENSSL_cleanse(l->auth, sizeof(l->auth));
	/* The timer is closed now and l freed in its close callback. */
	uv_close((uv_handle_t *)&l->retry, link_free_cb);
}
