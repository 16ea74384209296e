/* csim_main.c -- kyso-carrier-sim: the simulator core on one libuv loop (TELECOM.md 5).
 *
 *   kyso-carrier-sim --config FILE [--port N] [--control PATH] [--clock real|scaled:N|manual]
 *                    [--time-scale N] [--mode error|delay|instant|silent]
 *   kyso-carrier-sim ctl SOCKET 'JSON'      one control request, prints the reply
 *
 * The core runs in simulated milliseconds; this file maps them to the loop's clock: `real`
 * 1:1, `scaled:N` N simulated ms per real ms (every delay divided by N), `manual` only on
 * clock.advance. TCP_NODELAY and one uv_write per PDU. */
#include <sys/types.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "csim_int.h"

#define CTL_LINE_MAX    (64u * 1024u)
#define WRITE_QUEUE_MAX (8u * 1024u * 1024u) /* an ESME that stops reading is dropped */

struct dconn {
	uv_tcp_t h;
	uint32_t handle;
	bool attached; /* the core knows it */
	bool slow;     /* write queue over WRITE_QUEUE_MAX: dropped after the current event */
};

struct ctlc {
	uv_pipe_t h;
	char buf[CTL_LINE_MAX];
	size_t len;
};

struct app {
	uv_loop_t *loop;
	uv_tcp_t srv;
	uv_pipe_t ctl_srv;
	uv_timer_t timer;
	uv_signal_t sigterm, sigint;
	struct csim *core;
	struct csim_ca *ca;
	struct dconn *conns[CSIM_MAX_CONNS];
	const char *host;
	int port;
	char *control;
	char *state_file;
	bool manual;
	uint64_t scale;
	uint64_t base_real, base_sim, manual_now;
	bool stopping;
};

static struct app A;

static uint64_t
real_ms(void)
{
	return uv_hrtime() / 1000000u;
}

static uint64_t
sim_now(void)
{
	if (A.manual)
		return A.manual_now;
	return A.base_sim + (real_ms() - A.base_real) * A.scale;
}

static void on_timer(uv_timer_t *t);
static void drop_dconn(struct dconn *d);
static void free_handle(uv_handle_t *h);

/* Connections whose peer stopped reading: the core forgets them, the socket closes. */
static void
drop_slow(void)
{
	size_t i;

	for (i = 0; i < CSIM_MAX_CONNS; i++) {
		struct dconn *d = A.conns[i];

		if (d == NULL || !d->slow)
			continue;
		fprintf(stderr, "kyso-carrier-sim: dropping a connection that stopped reading\n");
		csim_conn_gone(A.core, d->handle, sim_now());
		drop_dconn(d);
		if (!uv_is_closing((uv_handle_t *)&d->h))
			uv_close((uv_handle_t *)&d->h, free_handle);
	}
}

/* After every event: run due timers, then arm the one uv timer for the next deadline. */
static void
reschedule(void)
{
	uint64_t now, dl, wait;

	if (A.stopping)
		return;
	drop_slow();
	now = sim_now();
	csim_tick(A.core, now);
	drop_slow();
	dl = csim_next_deadline(A.core);
	if (A.manual || dl == UINT64_MAX) {
		uv_timer_stop(&A.timer);
		return;
	}
	wait = dl <= now ? 0 : (dl - now + A.scale - 1) / A.scale;
	uv_timer_start(&A.timer, on_timer, wait, 0);
}

static void
on_timer(uv_timer_t *t)
{
	(void)t;
	reschedule();
}

/* ---- SMPP connections ---- */

static void
free_handle(uv_handle_t *h)
{
	free(h->data);
}

static void
write_done(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

static void
core_send(void *arg, uint32_t conn, const uint8_t *pdu, size_t len)
{
	struct dconn *d = A.conns[conn & 0xFF];
	uv_write_t *req;
	uv_buf_t b;

	(void)arg;
	if (d == NULL || d->handle != conn || uv_is_closing((uv_handle_t *)&d->h) || d->slow)
		return;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&d->h) > WRITE_QUEUE_MAX) {
		d->slow = true; /* TELECOM.md 5.6: nothing grows without bound */
		return;
	}
	if ((req = malloc(sizeof(*req) + len)) == NULL)
		return;
	memcpy(req + 1, pdu, len);
	b = uv_buf_init((char *)(req + 1), (unsigned)len);
	if (uv_write(req, (uv_stream_t *)&d->h, &b, 1, write_done) != 0)
		free(req);
}

static void
shutdown_done(uv_shutdown_t *req, int status)
{
	uv_handle_t *h = (uv_handle_t *)req->handle;

	(void)status;
	if (!uv_is_closing(h))
		uv_close(h, free_handle);
	free(req);
}

static void
drop_dconn(struct dconn *d)
{
	if (A.conns[d->handle & 0xFF] == d)
		A.conns[d->handle & 0xFF] = NULL;
	d->attached = false;
}

/* The core closed the connection (unbind, garbage): flush what was written, then close. */
static void
core_close(void *arg, uint32_t conn)
{
	struct dconn *d = A.conns[conn & 0xFF];
	uv_shutdown_t *req;

	(void)arg;
	if (d == NULL || d->handle != conn)
		return;
	drop_dconn(d);
	uv_read_stop((uv_stream_t *)&d->h);
	if ((req = malloc(sizeof(*req))) == NULL ||
	    uv_shutdown(req, (uv_stream_t *)&d->h, shutdown_done) != 0) {
		free(req);
		if (!uv_is_closing((uv_handle_t *)&d->h))
			uv_close((uv_handle_t *)&d->h, free_handle);
	}
}

static void
alloc_buf(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct dconn *d = s->data;

	if (n > 0 && d->attached) {
		csim_conn_feed(A.core, d->handle, (const uint8_t *)b->base, (size_t)n, sim_now());
	} else if (n < 0) {
		if (d->attached) {
			csim_conn_gone(A.core, d->handle, sim_now());
			drop_dconn(d);
		}
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, free_handle);
	}
	reschedule();
}

static void
on_conn(uv_stream_t *srv, int status)
{
	struct dconn *d;

	if (status != 0 || (d = calloc(1, sizeof(*d))) == NULL)
		return;
	uv_tcp_init(A.loop, &d->h);
	d->h.data = d;
	if (uv_accept(srv, (uv_stream_t *)&d->h) != 0 ||
	    csim_conn_open(A.core, sim_now(), &d->handle) != CSIM_OK) {
		uv_close((uv_handle_t *)&d->h, free_handle); /* TELECOM.md 5.6: 64 connections */
		return;
	}
	d->attached = true;
	A.conns[d->handle & 0xFF] = d;
	uv_tcp_nodelay(&d->h, 1);
	uv_read_start((uv_stream_t *)&d->h, alloc_buf, on_read);
}

/* ---- control socket ---- */

static void
ctl_reply(struct ctlc *cc, char *text)
{
	size_t n = text ? strlen(text) : 0;
	uv_write_t *req = malloc(sizeof(*req) + n + 1);
	uv_buf_t b;

	if (req == NULL) {
		free(text);
		return;
	}
	memcpy(req + 1, text, n);
	((char *)(req + 1))[n] = '\n';
	free(text);
	b = uv_buf_init((char *)(req + 1), (unsigned)n + 1);
	if (uv_write(req, (uv_stream_t *)&cc->h, &b, 1, write_done) != 0)
		free(req);
}

static void
close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, free_handle);
}

/* Saves the state file, then closes every handle so that uv_run returns. */
static void
stop_all(void)
{
	size_t i;

	if (A.stopping)
		return;
	if (A.state_file != NULL && csim_farm_save(csim_get_farm(A.core), A.state_file) != CSIM_OK)
		fprintf(stderr, "kyso-carrier-sim: could not save %s\n", A.state_file);
	A.stopping = true;
	for (i = 0; i < CSIM_MAX_CONNS; i++)
		if (A.conns[i] != NULL)
			drop_dconn(A.conns[i]);
	uv_walk(A.loop, close_any, NULL);
}

static void
on_signal(uv_signal_t *s, int sig)
{
	(void)s;
	(void)sig;
	stop_all();
}

static char *
clock_reply(void)
{
	char desc[32];
	json_t *o;
	char *out;

	if (A.manual)
		snprintf(desc, sizeof(desc), "manual");
	else if (A.scale == 1)
		snprintf(desc, sizeof(desc), "real");
	else
		snprintf(desc, sizeof(desc), "scaled:%llu", (unsigned long long)A.scale);
	o = json_pack("{s:b,s:I,s:s,s:I}", "ok", 1, "now_ms", (json_int_t)sim_now(), "clock", desc,
	              "scale", (json_int_t)A.scale);
	out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return out;
}

/* clock.get, clock.advance and shutdown are the driver's; the rest goes to the core. */
static char *
ctl_line(const char *line, size_t len, bool *quit)
{
	json_t *req = json_loadb(line, len, 0, NULL);
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char *out = NULL;

	if (cmd != NULL && strcmp(cmd, "clock.get") == 0) {
		out = clock_reply();
	} else if (cmd != NULL && strcmp(cmd, "clock.advance") == 0) {
		json_int_t ms = json_integer_value(json_object_get(req, "ms"));

		if (!A.manual || ms < 0)
			out = strdup(
			        "{\"ok\":false,\"error\":\"clock.advance needs the manual clock "
			        "and ms >= 0\"}");
		else {
			A.manual_now += (uint64_t)ms;
			csim_tick(A.core, A.manual_now);
			out = clock_reply();
		}
	} else if (cmd != NULL && strcmp(cmd, "shutdown") == 0) {
		*quit = true;
		out = strdup("{\"ok\":true}");
	} else {
		out = csim_ctl(A.core, line, len, sim_now(), real_ms());
	}
	json_decref(req);
	return out;
}

static void
ctl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct ctlc *cc = s->data;
	bool quit = false;
	ssize_t i;

	if (n < 0) {
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, free_handle);
		return;
	}
	for (i = 0; i < n; i++) {
		char ch = b->base[i];

		if (ch != '\n') {
			if (cc->len < sizeof(cc->buf))
				cc->buf[cc->len] = ch;
			cc->len++;
			continue;
		}
		if (cc->len > sizeof(cc->buf)) /* TELECOM.md 5.5: lines <= 64 KiB */
			ctl_reply(cc, strdup("{\"ok\":false,\"error\":\"line over 64 KiB\"}"));
		else if (cc->len > 0)
			ctl_reply(cc, ctl_line(cc->buf, cc->len, &quit));
		cc->len = 0;
	}
	reschedule();
	if (quit)
		stop_all();
}

static void
on_ctl_conn(uv_stream_t *srv, int status)
{
	struct ctlc *cc;

	if (status != 0 || (cc = calloc(1, sizeof(*cc))) == NULL)
		return;
	uv_pipe_init(A.loop, &cc->h, 0);
	cc->h.data = cc;
	if (uv_accept(srv, (uv_stream_t *)&cc->h) != 0) {
		uv_close((uv_handle_t *)&cc->h, free_handle);
		return;
	}
	uv_read_start((uv_stream_t *)&cc->h, alloc_buf, ctl_read);
}

/* ---- configuration ---- */

static int
parse_clock(const char *s)
{
	if (strcmp(s, "real") == 0) {
		A.scale = 1;
		A.manual = false;
	} else if (strcmp(s, "manual") == 0) {
		A.scale = 1;
		A.manual = true;
	} else if (strncmp(s, "scaled:", 7) == 0) {
		char *end;
		unsigned long long n = strtoull(s + 7, &end, 10);

		if (*end != '\0' || n < 1 || n > 1000000)
			return -1;
		A.scale = n;
		A.manual = false;
	} else {
		return -1;
	}
	return 0;
}

static int
parse_mode(const char *s, enum csim_mode *m)
{
	static const char *const names[] = { "error", "delay", "instant", "silent" };
	size_t i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*m = (enum csim_mode)i;
			return 0;
		}
	return -1;
}

static const char *
jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Sends {"cmd": cmd, ...obj} to the core (config reuses the control commands). */
static int
core_cmd(const char *cmd, json_t *obj)
{
	json_t *req = json_deep_copy(obj);
	char *line, *rsp;
	int ok;

	if (req == NULL)
		return -1;
	json_object_set_new(req, "cmd", json_string(cmd));
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (line == NULL)
		return -1;
	rsp = csim_ctl(A.core, line, strlen(line), sim_now(), real_ms());
	ok = rsp != NULL && strncmp(rsp, "{\"ok\":true", 10) == 0;
	if (!ok)
		fprintf(stderr, "kyso-carrier-sim: %s failed: %s\n", cmd, rsp ? rsp : "no memory");
	free(rsp);
	free(line);
	return ok ? 0 : -1;
}

struct opts {
	const char *config, *port, *control, *clock, *mode;
};

static int
setup(const struct opts *o)
{
	json_error_t err;
	json_t *cfg = json_load_file(o->config, 0, &err), *ca, *v;
	struct csim_cfg cc;
	enum csim_mode mode = CSIM_MODE_ERROR;
	size_t i, loaded = 0;
	const char *clock;

	if (cfg == NULL) {
		fprintf(stderr, "kyso-carrier-sim: %s:%d: %s\n", o->config, err.line, err.text);
		return -1;
	}
	csim_cfg_default(&cc);
	cc.epoch_s = (uint64_t)time(NULL); /* DLR dates: wall clock at start + simulated time */
	if ((v = json_object_get(cfg, "seed")) != NULL)
		cc.farm.seed = (uint64_t)json_integer_value(v);
	if (jstr(cfg, "prefix") != NULL)
		cc.farm.prefix = jstr(cfg, "prefix");
	cc.farm.provision_file = jstr(cfg, "provision_file");
	cc.strict_accounts = json_is_true(json_object_get(cfg, "strict_accounts"));
	if ((o->mode || jstr(cfg, "mode")) &&
	    parse_mode(o->mode ? o->mode : jstr(cfg, "mode"), &mode) != 0) {
		fprintf(stderr, "kyso-carrier-sim: mode is error|delay|instant|silent\n");
		return -1;
	}
	cc.farm.mode = mode;
	clock = o->clock ? o->clock : jstr(cfg, "clock") ? jstr(cfg, "clock") : "real";
	if (parse_clock(clock) != 0) {
		fprintf(stderr, "kyso-carrier-sim: clock is real|scaled:N|manual, not %s\n", clock);
		return -1;
	}
	if ((ca = json_object_get(cfg, "ca")) != NULL &&
	    csim_ca_load(jstr(ca, "cert") ? jstr(ca, "cert") : "",
	                 jstr(ca, "key") ? jstr(ca, "key") : "", jstr(ca, "index"),
	                 jstr(ca, "ocsp_url"), &A.ca) != CSIM_OK) {
		fprintf(stderr, "kyso-carrier-sim: cannot load the issuing CA (ca.cert, ca.key)\n");
		return -1;
	}
	if (A.ca != NULL && csim_ca_set_crl_url(A.ca, jstr(ca, "crl_url")) != CSIM_OK)
		return -1;
	cc.farm.ca = A.ca;
	v = json_object_get(cfg, "accounts");
	for (i = 0; i < json_array_size(v) && i < CSIM_MAX_ACCOUNTS; i++) {
		json_t *a = json_array_get(v, i);
		json_int_t mb = json_integer_value(json_object_get(a, "max_binds"));

		if (jstr(a, "system_id") == NULL || strlen(jstr(a, "system_id")) > 15 ||
		    jstr(a, "password") == NULL || strlen(jstr(a, "password")) > 8) {
			fprintf(stderr,
			        "kyso-carrier-sim: accounts[%zu]: system_id <= 15, password <= 8\n",
			        i);
			return -1;
		}
		snprintf(cc.accounts[i].system_id, 16, "%s", jstr(a, "system_id"));
		snprintf(cc.accounts[i].password, 9, "%s", jstr(a, "password"));
		cc.accounts[i].max_binds = mb > 0 && mb <= 64 ? (uint32_t)mb : 8;
		csim_knobs_default(&cc.accounts[i].knobs);
		cc.n_accounts++;
	}
	A.host = jstr(cfg, "host") ? strdup(jstr(cfg, "host")) : "127.0.0.1";
	A.port = o->port ? (int)strtol(o->port, NULL, 10)
	                 : (int)json_integer_value(json_object_get(cfg, "port"));
	A.control = o->control             ? strdup(o->control)
	            : jstr(cfg, "control") ? strdup(jstr(cfg, "control"))
	                                   : NULL;
	A.state_file = jstr(cfg, "state_file") ? strdup(jstr(cfg, "state_file")) : NULL;
	if (csim_new(&cc, core_send, core_close, NULL, &A.core) != CSIM_OK)
		return -1;
	csim_set_state_file(A.core, A.state_file);
	for (i = 0; i < json_array_size(v) && i < CSIM_MAX_ACCOUNTS; i++)
		if (core_cmd("smsc.set", json_array_get(v, i)) != 0)
			return -1;
	if (A.state_file != NULL) {
		enum csim_err rc = csim_farm_load(csim_get_farm(A.core), A.state_file, &loaded);

		if (rc != CSIM_OK && rc != CSIM_E_NOTFOUND) {
			fprintf(stderr, "kyso-carrier-sim: state file %s: %s (after %zu SIMs)\n",
			        A.state_file, csim_strerror(rc), loaded);
			return -1;
		}
	}
	v = json_object_get(cfg, "provision");
	for (i = 0; i < json_array_size(v); i++)
		if (core_cmd("sim.add_range", json_array_get(v, i)) != 0)
			return -1;
	fprintf(stderr, "kyso-carrier-sim: %zu SIMs (%zu from the state file)\n",
	        csim_farm_count(csim_get_farm(A.core)), loaded);
	json_decref(cfg);
	return 0;
}

static int
listen_all(void)
{
	struct sockaddr_in sa;
	int rc;

	if ((rc = uv_ip4_addr(A.host, A.port, &sa)) != 0 ||
	    (rc = uv_tcp_init(A.loop, &A.srv)) != 0 ||
	    (rc = uv_tcp_bind(&A.srv, (struct sockaddr *)&sa, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&A.srv, 64, on_conn)) != 0) {
		fprintf(stderr, "kyso-carrier-sim: listen %s:%d: %s\n", A.host, A.port,
		        uv_strerror(rc));
		return -1;
	}
	{ /* port 0: the kernel picked one; say which (scripts read "PORT n") */
		struct sockaddr_storage ss;
		int len = sizeof(ss);

		if (uv_tcp_getsockname(&A.srv, (struct sockaddr *)&ss, &len) == 0)
			A.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		fprintf(stderr, "PORT %d\n", A.port);
	}
	if (A.control != NULL) {
		unlink(A.control);
		if ((rc = uv_pipe_init(A.loop, &A.ctl_srv, 0)) != 0 ||
		    (rc = uv_pipe_bind(&A.ctl_srv, A.control)) != 0 ||
		    (rc = uv_listen((uv_stream_t *)&A.ctl_srv, 16, on_ctl_conn)) != 0) {
			fprintf(stderr, "kyso-carrier-sim: control %s: %s\n", A.control,
			        uv_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* ---- `ctl SOCKET JSON`: one request, blocking, for scripts ---- */

static int
ctl_client(const char *path, const char *json)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t got = 0;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "socket path too long\n");
		return 2;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "connect %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (write(fd, json, strlen(json)) < 0 || write(fd, "\n", 1) != 1) {
		close(fd);
		return 2;
	}
	while (got < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got) != NULL)
			break;
	}
	close(fd);
	buf[got] = '\0';
	fputs(buf, stdout);
	return strncmp(buf, "{\"ok\":true", 10) == 0 ? 0 : 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kyso-carrier-sim --config FILE [--port N] [--control PATH]\n"
	                "         [--clock real|scaled:N|manual] [--time-scale N]\n"
	                "         [--mode error|delay|instant|silent]\n"
	                "       kyso-carrier-sim ctl SOCKET JSON\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	char scaled[32];
	int i;

	if (argc == 4 && strcmp(argv[1], "ctl") == 0)
		return ctl_client(argv[2], argv[3]);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (val == NULL)
			usage();
		if (strcmp(a, "--config") == 0)
			o.config = val;
		else if (strcmp(a, "--port") == 0)
			o.port = val;
		else if (strcmp(a, "--control") == 0)
			o.control = val;
		else if (strcmp(a, "--clock") == 0)
			o.clock = val;
		else if (strcmp(a, "--time-scale") == 0) {
			snprintf(scaled, sizeof(scaled), "scaled:%s", val);
			o.clock = strcmp(val, "1") == 0 ? "real" : scaled;
		} else if (strcmp(a, "--mode") == 0)
			o.mode = val;
		else
			usage();
		i++;
	}
	if (o.config == NULL)
		usage();
	signal(SIGPIPE, SIG_IGN);
	A.loop = uv_default_loop();
	A.scale = 1;
	A.base_real = real_ms();
	if (setup(&o) != 0 || listen_all() != 0)
		return 1;
	uv_timer_init(A.loop, &A.timer);
	uv_signal_init(A.loop, &A.sigterm);
	uv_signal_start(&A.sigterm, on_signal, SIGTERM);
	uv_signal_init(A.loop, &A.sigint);
	uv_signal_start(&A.sigint, on_signal, SIGINT);
	fprintf(stderr, "kyso-carrier-sim: listening on %s:%d, control %s, clock %s%llu\n", A.host,
	        A.port, A.control ? A.control : "(none)", A.manual ? "manual x" : "scale x",
	        (unsigned long long)A.scale);
	reschedule();
	uv_run(A.loop, UV_RUN_DEFAULT);
	uv_loop_close(A.loop);
	csim_free(A.core);
	csim_ca_free(A.ca);
	if (A.control != NULL)
		unlink(A.control);
	free(A.control);
	free(A.state_file);
	return 0;
}
