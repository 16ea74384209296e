/* gw_smsc_link.c -- the SIM channel on the loop: one uv_tcp per configured SMPP bind driving a
 * sans-I/O ESME session (ARCHITECTURE.md section 3, TELECOM.md 1.5), the carrier table read from
 * `smsc.routes`, and the OTA counter reservations through db/ (TELECOM.md 2.3).
 *
 * Per link: the session asks for a connection (EV_CONNECT) and we open a TCP_NODELAY socket to
 * the carrier's numeric address; bytes read go to smsc_session_feed(); after every call into
 * the session, every PDU it has ready is written (one write per PDU); one uv_timer follows
 * smsc_session_next_deadline(). Reconnect back-off, window, throttling and keepalive are the
 * session's. Every session event goes to the channel core (gw_chan_sim.c). */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "gw_int.h"
#include "gw_sim.h"

#define RX_CAP        8192u
#define ROUTES_MAX    (256u * 1024u)
#define REASM_TICK_MS 1000u
#define LAT_SLOTS     4096u /* submit times remembered for the resp latency */

struct gw_smsc;

/* One TCP connection attempt; outlives its link's interest until its close callback. */
struct link_conn {
	uv_tcp_t tcp;
	uv_connect_t req;
	struct gw_smsc_link *link; /* NULL once the link moved on */
};

struct gw_smsc_link {
	struct gw_smsc *owner;
	const struct smsc_carrier *car;
	unsigned bind_no;
	struct smsc_session *ss;
	struct link_conn *conn;
	uv_timer_t timer;
	bool bound;
	bool connect_failed; /* reported to the session from the timer, not from its callback */
	int in_session;      /* inside this session's event callback: take() waits for the caller */
	uint8_t rx[RX_CAP];
};

struct gw_smsc {
	struct gw *gw;
	struct smsc_route_table *routes;
	struct gw_sim *sim;
	struct gw_channel chan;
	struct gw_smsc_link **links;
	size_t nlinks;
	uv_timer_t reasm_timer;
	bool timer_inited;
	struct {
		uint64_t tag, t0;
	} lat[LAT_SLOTS];
};

struct wr {
	uv_write_t req;
	uint8_t data[];
};

static void link_flush(struct gw_smsc_link *l);
static void link_arm(struct gw_smsc_link *l);

/* ---- sockets ------------------------------------------------------------------------------ */

static void
conn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
conn_drop(struct gw_smsc_link *l)
{
	struct link_conn *c = l->conn;

	if (c == NULL)
		return;
	l->conn = NULL;
	c->link = NULL;
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* The peer closed, or a read/write failed: the session backs off and reconnects. */
static void
link_lost(struct gw_smsc_link *l)
{
	conn_drop(l);
	smsc_session_disconnected(l->ss, gw_mono_ms());
	link_flush(l);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct link_conn *c = h->data;

	(void)hint;
	if (c->link == NULL) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init((char *)c->link->rx, RX_CAP);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct link_conn *c = s->data;
	struct gw_smsc_link *l = c->link;

	(void)buf;
	if (l == NULL || n == 0)
		return;
	if (n < 0) {
		gw_log(GW_LOG_INFO, "msg=\"smpp link closed by peer\" carrier=%s bind=%u err=%s",
		       l->car->name, l->bind_no, uv_err_name((int)n));
		link_lost(l);
		return;
	}
	smsc_session_feed(l->ss, l->rx, (size_t)n, gw_mono_ms());
	link_flush(l);
}

static void
on_written(uv_write_t *req, int status)
{
	struct wr *w = (struct wr *)req;
	struct link_conn *c = req->handle->data;

	free(w);
	if (status < 0 && status != UV_ECANCELED && c->link != NULL)
		link_lost(c->link);
}

static void
on_connected(uv_connect_t *req, int status)
{
	struct link_conn *c = req->data;
	struct gw_smsc_link *l = c->link;

	if (l == NULL)
		return; /* given up meanwhile: the handle is closing */
	if (status < 0) {
		gw_log(GW_LOG_WARN, "msg=\"smpp connect failed\" carrier=%s bind=%u err=%s",
		       l->car->name, l->bind_no, uv_err_name(status));
		link_lost(l);
		return;
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		link_lost(l);
		return;
	}
	smsc_session_connected(l->ss, gw_mono_ms());
	link_flush(l);
}

static int
addr_parse(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
}

static void
link_connect(struct gw_smsc_link *l)
{
	struct sockaddr_storage sa;
	struct link_conn *c;

	conn_drop(l);
	if (addr_parse(l->car->host, l->car->port, &sa) != 0 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		l->connect_failed =
		        true; /* inside the session's callback: tell it from the timer */
		return;
	}
	uv_tcp_init(l->owner->gw->loop, &c->tcp);
	c->tcp.data = c;
	c->req.data = c;
	c->link = l;
	l->conn = c;
	uv_tcp_nodelay(&c->tcp, 1); /* TELECOM.md 6: W 1 fell from 4 092 to 11/s without it */
	if (uv_tcp_connect(&c->req, &c->tcp, (const struct sockaddr *)&sa, on_connected) != 0) {
		conn_drop(l);
		l->connect_failed = true;
	}
}

/* Writes every PDU the session has ready, one write each. */
static void
link_flush(struct gw_smsc_link *l)
{
	uint8_t buf[SMSC_PDU_MAX_DEF];
	size_t n;

	while (smsc_session_take(l->ss, buf, sizeof(buf), &n, gw_mono_ms()) == SMSC_OK) {
		struct wr *w;
		uv_buf_t b;

		if (l->conn == NULL)
			continue; /* nothing to write to: the session counts the link gone */
		if ((w = malloc(sizeof(*w) + n)) == NULL) {
			link_lost(l);
			break;
		}
		memcpy(w->data, buf, n);
		b = uv_buf_init((char *)w->data, (unsigned)n);
		if (uv_write(&w->req, (uv_stream_t *)&l->conn->tcp, &b, 1, on_written) != 0) {
			free(w);
			link_lost(l);
			break;
		}
	}
	link_arm(l);
}

static void
on_timer(uv_timer_t *t)
{
	struct gw_smsc_link *l = t->data;

	if (l->connect_failed) {
		l->connect_failed = false;
		smsc_session_disconnected(l->ss, gw_mono_ms());
	}
	smsc_session_tick(l->ss, gw_mono_ms());
	link_flush(l);
}

static void
link_arm(struct gw_smsc_link *l)
{
	uint64_t due = smsc_session_next_deadline(l->ss), now = gw_mono_ms();

	if (uv_is_closing((uv_handle_t *)&l->timer))
		return;
	if (l->connect_failed)
		due = now;
	if (due == UINT64_MAX) {
		uv_timer_stop(&l->timer);
		return;
	}
	uv_timer_start(&l->timer, on_timer, due > now ? due - now : 0, 0);
}

/* ---- session events -------------------------------------------------------------------- */

static void
node_event(struct gw_smsc_link *l, const char *kind, const char *detail, uint32_t status)
{
	json_t *d =
	        json_pack("{s:s, s:i, s:s, s:i}", "carrier", l->car->name, "bind", (int)l->bind_no,
	                  "detail", detail != NULL ? detail : "", "status", (int)status);

	gw_event_node(l->owner->gw, kind, "smsc", NULL, NULL, d);
}

static void
lat_start(struct gw_smsc *s, uint64_t tag)
{
	size_t i = (size_t)(tag % LAT_SLOTS);

	s->lat[i].tag = tag;
	s->lat[i].t0 = gw_mono_ms();
}

static void
lat_end(struct gw_smsc *s, uint64_t tag)
{
	size_t i = (size_t)(tag % LAT_SLOTS);

	if (s->lat[i].tag != tag || s->lat[i].t0 == 0)
		return;
	s->gw->metrics.smsc_resp_count++;
	s->gw->metrics.smsc_resp_sum_ms += gw_mono_ms() - s->lat[i].t0;
	s->lat[i].t0 = 0;
}

static void on_session_ev(struct gw_smsc_link *l, const struct smsc_event *ev);

/* Every call into a session is followed by link_flush() from its caller; the events it fires
 * may queue submits (an engine starting the next request) but must not take() meanwhile. */
static void
on_session(void *arg, const struct smsc_event *ev)
{
	struct gw_smsc_link *l = arg;

	l->in_session++;
	on_session_ev(l, ev);
	l->in_session--;
}

static void
on_session_ev(struct gw_smsc_link *l, const struct smsc_event *ev)
{
	struct gw_metrics *m = &l->owner->gw->metrics;

	switch (ev->kind) {
	case SMSC_EV_CONNECT:
		link_connect(l);
		return;
	case SMSC_EV_CLOSE:
		conn_drop(l);
		return;
	case SMSC_EV_BOUND:
		l->bound = true;
		m->smsc_binds_up++;
		m->smsc_bind_events++;
		gw_log(GW_LOG_INFO, "msg=\"smpp bound\" carrier=%s bind=%u", l->car->name,
		       l->bind_no);
		node_event(l, "smsc.bind.up", NULL, 0);
		return;
	case SMSC_EV_UNBOUND:
		if (l->bound && m->smsc_binds_up > 0)
			m->smsc_binds_up--;
		if (l->bound)
			node_event(l, "smsc.bind.down", ev->detail, ev->status);
		l->bound = false;
		return;
	case SMSC_EV_ALARM:
		gw_log(GW_LOG_WARN,
		       "msg=\"smpp alarm\" carrier=%s bind=%u status=0x%x detail=\"%s\"",
		       l->car->name, l->bind_no, ev->status, ev->detail ? ev->detail : "");
		node_event(l, "smsc.alarm", ev->detail, ev->status);
		return;
	case SMSC_EV_SUBMIT_OK:
		m->smsc_submit_ok++;
		lat_end(l->owner, ev->tag);
		break;
	case SMSC_EV_SUBMIT_FAIL:
		m->smsc_submit_fail++;
		lat_end(l->owner, ev->tag);
		break;
	case SMSC_EV_DLR:
		m->smsc_dlrs++;
		break;
	case SMSC_EV_MO:
		m->smsc_mos++;
		break;
	default:
		return;
	}
	if (l->owner->sim != NULL)
		gw_sim_on_link_event(l->owner->sim, l->car->name, l->ss, ev);
}

/* ---- the core's operations ------------------------------------------------------------ */

static bool
alg_parse(const char *s, enum smsc_ota_alg *out)
{
	if (strcmp(s, "3des-2key") == 0)
		*out = SMSC_ALG_3DES2;
	else if (strcmp(s, "3des-3key") == 0)
		*out = SMSC_ALG_3DES3;
	else if (strcmp(s, "aes-cbc") == 0 || strcmp(s, "aes-cmac") == 0)
		*out = SMSC_ALG_AES;
	else
		return false;
	return true;
}

static bool
tar_parse(const char *hex, uint8_t tar[3])
{
	unsigned v[3];

	if (strlen(hex) != 6 || sscanf(hex, "%2x%2x%2x", &v[0], &v[1], &v[2]) != 3)
		return false;
	for (int i = 0; i < 3; i++)
		tar[i] = (uint8_t)v[i];
	return true;
}

static void
on_reserved(void *arg, uint64_t tag, enum db_err rc, const struct db_sim_keyset *k)
{
	struct gw *gw = arg;
	struct gw_sim_keyset ks;
	enum gw_sim_store_rc src = GW_SIM_STORE_DOWN;

	if (gw->smsc == NULL || gw->smsc->sim == NULL)
		return;
	memset(&ks, 0, sizeof(ks));
	if (rc == DB_E_NOTFOUND) {
		src = GW_SIM_STORE_UNKNOWN;
	} else if (rc == DB_E_LOCKED) {
		src = GW_SIM_STORE_LOCKED;
	} else if (rc == DB_OK && k != NULL && k->kic_len <= sizeof(ks.keys.kic) &&
	           k->kid_len <= sizeof(ks.keys.kid) && alg_parse(k->kic_alg, &ks.kic_alg) &&
	           alg_parse(k->kid_alg, &ks.kid_alg) && tar_parse(k->tar, ks.tar) &&
	           k->counter > 0) {
		snprintf(ks.iccid, sizeof(ks.iccid), "%s", k->iccid);
		ks.kvn = k->kvn;
		memcpy(ks.keys.kic, k->kic, k->kic_len);
		ks.keys.kic_len = k->kic_len;
		memcpy(ks.keys.kid, k->kid, k->kid_len);
		ks.keys.kid_len = k->kid_len;
		ks.counter = (uint64_t)k->counter;
		src = GW_SIM_STORE_OK;
	} else if (rc == DB_OK) {
		gw_log(GW_LOG_WARN, "msg=\"sim keyset unusable\" iccid=%s kvn=%d",
		       k != NULL ? k->iccid : "", k != NULL ? k->kvn : 0);
		src = GW_SIM_STORE_UNKNOWN;
	}
	gw_sim_on_reserved(gw->smsc->sim, tag, src, src == GW_SIM_STORE_OK ? &ks : NULL);
	OPENSSL_cleanse(&ks, sizeof(ks));
}

static int
op_reserve(void *ctx, uint64_t op, const char *msisdn, uint32_t step, const char *lock_txn)
{
	struct gw_smsc *s = ctx;
	enum db_err rc;

	if (s->gw->db == NULL)
		return -1;
	rc = db_sim_counter_reserve(s->gw->db, op, msisdn, step, lock_txn, on_reserved);
	gw_db_sync(s->gw);
	return rc == DB_OK ? 0 : rc == DB_E_BUSY ? -2 : -1;
}

/* The carrier's bind with the least work queued; a link that is not bound keeps the submit
 * queued until it is (or the deadline passes). */
static struct gw_smsc_link *
pick_link(struct gw_smsc *s, const char *carrier)
{
	struct gw_smsc_link *best = NULL;
	size_t best_load = SIZE_MAX;

	for (size_t i = 0; i < s->nlinks; i++) {
		struct gw_smsc_link *l = s->links[i];
		size_t load;

		if (strcmp(l->car->name, carrier) != 0)
			continue;
		load = smsc_session_queued(l->ss) + smsc_session_in_flight(l->ss) +
		       (l->bound ? 0 : SIZE_MAX / 2);
		if (best == NULL || load < best_load) {
			best = l;
			best_load = load;
		}
	}
	return best;
}

static int
op_submit(void *ctx, const char *carrier, uint64_t tag, const struct smsc_submit *m)
{
	struct gw_smsc *s = ctx;
	struct gw_smsc_link *l = pick_link(s, carrier);

	if (l == NULL || smsc_session_submit(l->ss, tag, m, gw_mono_ms()) != SMSC_OK)
		return -1;
	s->gw->metrics.smsc_submits++;
	lat_start(s, tag);
	if (l->in_session == 0)
		link_flush(l);
	return 0;
}

static void
op_cancel(void *ctx, const char *carrier, uint64_t tag)
{
	struct gw_smsc *s = ctx;

	for (size_t i = 0; i < s->nlinks; i++)
		if (strcmp(s->links[i]->car->name, carrier) == 0 &&
		    smsc_session_cancel(s->links[i]->ss, tag) == SMSC_OK)
			return;
}

static uint64_t
op_now(void *ctx)
{
	(void)ctx;
	return gw_mono_ms();
}

static void
on_reasm_timer(uv_timer_t *t)
{
	struct gw_smsc *s = t->data;

	gw_sim_tick(s->sim);
}

/* ---- life ------------------------------------------------------------------------------- */

static int
routes_read(const char *path, struct smsc_route_table **out, char *err, size_t errlen)
{
	struct smsc_route_table *t = NULL;
	char *text = NULL;
	ssize_t n;
	size_t line = 0;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "smsc.routes: %s: %s", path, strerror(errno));
		return -1;
	}
	if ((text = malloc(ROUTES_MAX)) == NULL)
		goto out;
	n = read(fd, text, ROUTES_MAX); /* start-up, before the loop runs */
	if (n < 0 || (size_t)n >= ROUTES_MAX) {
		snprintf(err, errlen, "smsc.routes: %s: unreadable or over %u bytes", path,
		         ROUTES_MAX);
		goto out;
	}
	if (smsc_route_new(&t) != SMSC_OK ||
	    smsc_route_load(t, text, (size_t)n, &line) != SMSC_OK) {
		snprintf(err, errlen, "smsc.routes: %s:%zu: invalid line", path, line);
		goto out;
	}
	if (smsc_route_carrier(t, 0) == NULL) {
		snprintf(err, errlen, "smsc.routes: %s: no carrier", path);
		goto out;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	if (text != NULL)
		OPENSSL_cleanse(text, ROUTES_MAX); /* it held passwords */
	free(text);
	smsc_route_free(t);
	close(fd);
	return rc;
}

int
gw_smsc_check(const struct gw_config *cfg, char *err, size_t errlen)
{
	struct smsc_route_table *t = NULL;

	if (cfg->smsc_routes[0] == '\0')
		return 0;
	if (routes_read(cfg->smsc_routes, &t, err, errlen) != 0)
		return -1;
	smsc_route_free(t);
	return 0;
}

static struct gw_smsc_link *
link_new(struct gw_smsc *s, const struct smsc_carrier *car, unsigned bind_no)
{
	struct smsc_config sc = {
		.system_id = car->system_id,
		.password = car->password,
		.system_type = car->system_type,
		.window = car->window,
		.tps = car->tps,
		.enquire_ms = (uint32_t)s->gw->cfg.smsc_enquire_link_s * 1000u,
		.id_style = car->id_style,
		.vendor_class = car->vendor_class,
		.seed = gw_now_us() ^ bind_no,
	};
	struct gw_smsc_link *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->owner = s;
	l->car = car;
	l->bind_no = bind_no;
	if (smsc_session_new(&sc, on_session, l, &l->ss) != SMSC_OK) {
		free(l);
		return NULL;
	}
	uv_timer_init(s->gw->loop, &l->timer);
	l->timer.data = l;
	return l;
}

static int
links_make(struct gw_smsc *s)
{
	const struct smsc_carrier *car;
	size_t total = 0, i;

	for (i = 0; (car = smsc_route_carrier(s->routes, i)) != NULL; i++)
		total += car->binds > 0 ? car->binds : 1;
	if (total == 0 || (s->links = calloc(total, sizeof(*s->links))) == NULL)
		return -1;
	for (i = 0; (car = smsc_route_carrier(s->routes, i)) != NULL; i++) {
		unsigned b, nb = car->binds > 0 ? car->binds : 1;

		for (b = 0; b < nb; b++) {
			struct gw_smsc_link *l = link_new(s, car, b);

			if (l == NULL)
				return -1;
			s->links[s->nlinks++] = l;
		}
	}
	return 0;
}

int
gw_smsc_start(struct gw *gw, char *err, size_t errlen)
{
	struct gw_smsc *s;
	struct gw_sim_config cfg = {
		.key_ref = (uint8_t)gw->cfg.sim_key_ref,
		.resync_step = (uint32_t)gw->cfg.sim_resync_step,
		.time_scale = (uint32_t)(gw->cfg.dev_time_scale > 0 ? gw->cfg.dev_time_scale : 1),
	};
	struct gw_sim_ops ops = {
		.reserve = op_reserve, .submit = op_submit, .cancel = op_cancel, .now_ms = op_now
	};

	if (gw->cfg.smsc_routes[0] == '\0')
		return 0; /* no SIM channel on this node */
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "no memory");
		return -1;
	}
	s->gw = gw;
	gw->smsc = s;
	ops.ctx = s;
	if (routes_read(gw->cfg.smsc_routes, &s->routes, err, errlen) != 0)
		return -1;
	if ((s->sim = gw_sim_new(&cfg, s->routes, &ops)) == NULL || links_make(s) != 0) {
		snprintf(err, errlen, "smsc.routes: no memory");
		return -1;
	}
	gw_sim_channel(s->sim, &s->chan);
	uv_timer_init(gw->loop, &s->reasm_timer);
	s->reasm_timer.data = s;
	s->timer_inited = true;
	uv_timer_start(&s->reasm_timer, on_reasm_timer, REASM_TICK_MS, REASM_TICK_MS);
	for (size_t i = 0; i < s->nlinks; i++) {
		if (smsc_session_start(s->links[i]->ss, gw_mono_ms()) != SMSC_OK) {
			snprintf(err, errlen, "smpp session would not start");
			return -1;
		}
		link_flush(s->links[i]);
	}
	gw_log(GW_LOG_INFO, "msg=\"sim channel up\" binds=%zu routes=%zu", s->nlinks,
	       smsc_route_count(s->routes));
	return 0;
}

struct gw_channel *
gw_smsc_channel(struct gw *gw)
{
	return gw->smsc != NULL && gw->smsc->sim != NULL ? &gw->smsc->chan : NULL;
}

static void
link_timer_closed(uv_handle_t *h)
{
	struct gw_smsc_link *l = h->data;

	smsc_session_free(l->ss);
	free(l);
}

/* Drain (SIGTERM): each session stops taking submits, lets those in flight answer, unbinds and
 * closes (TELECOM.md 1.5 shutdown); gw_smsc_stop() ends what is left when the drain is over. */
void
gw_smsc_drain(struct gw *gw)
{
	struct gw_smsc *s = gw->smsc;

	for (size_t i = 0; s != NULL && i < s->nlinks; i++) {
		smsc_session_stop(s->links[i]->ss, gw_mono_ms());
		link_flush(s->links[i]);
	}
}

static void
smsc_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Immediate stop: sockets closed, transactions left to the engine's restart rules. */
void
gw_smsc_stop(struct gw *gw)
{
	struct gw_smsc *s = gw->smsc;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nlinks; i++) {
		struct gw_smsc_link *l = s->links[i];

		conn_drop(l);
		uv_timer_stop(&l->timer);
		uv_close((uv_handle_t *)&l->timer, link_timer_closed);
	}
	gw_sim_free(s->sim);
	s->sim = NULL;
	smsc_route_free(s->routes);
	s->routes = NULL;
	free(s->links);
	s->links = NULL;
	s->nlinks = 0;
	gw->smsc = NULL;
	if (s->timer_inited)
		uv_close((uv_handle_t *)&s->reasm_timer, smsc_closed); /* frees s */
	else
		free(s);
}
