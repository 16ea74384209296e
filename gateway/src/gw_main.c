/* gw_main.c -- kyso-gateway: configuration, the loop, signals, start and drain. */
#include <sys/resource.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/gw.h>

#include "gw_engine.h"
#include "gw_int.h"
#include "gw_recovery.h"

#define DRAIN_POLL_MS 50

static void
usage(FILE *f)
{
	fprintf(f, "usage: kyso-gateway --config FILE [--check-config]\n"
	           "  --config FILE    the JSON configuration (docs/config.md)\n"
	           "  --check-config   validate, print the effective configuration, exit\n");
}

/* The hard limit is the ceiling; sessions are capped below it (PERFORMANCE.md section 3). */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			gw_log(GW_LOG_WARN, "msg=\"cannot raise the fd limit\" err=\"%s\"",
			       strerror(errno));
	}
}

static void
finish(struct gw *gw)
{
	uv_timer_stop(&gw->drain_timer);
	uv_close((uv_handle_t *)&gw->drain_timer, NULL);
	uv_close((uv_handle_t *)&gw->sig_term, NULL);
	uv_close((uv_handle_t *)&gw->sig_int, NULL);
	uv_close((uv_handle_t *)&gw->sig_hup, NULL);
	gw_recovery_stop(gw);
	gw_smsc_stop(gw);
	gw_agent_stop(gw);
	if (gw->mqtt != NULL) {
		gw_mqtt_stop(gw->mqtt);
		gw->mqtt = NULL;
	}
	gw_db_stop(gw); /* lane items still queued reach gw_engine_txn_done first */
	gw_engine_free(gw->engine);
	gw->engine = NULL;
	gw_verify_stop(gw);
	uv_stop(gw->loop);
}

/* Drain: sessions are closed with 1001 and node events reach PostgreSQL, within the bound. */
static void
drain_cb(uv_timer_t *t)
{
	struct gw *gw = t->data;
	struct db_stats s;

	db_stats_get(gw->db, &s);
	if ((gw->sessions == NULL && s.queued == 0 && s.inflight == 0) ||
	    gw_mono_ms() >= gw->drain_deadline_ms) {
		if (gw->sessions != NULL || s.queued != 0 || s.inflight != 0)
			gw_log(GW_LOG_WARN,
			       "msg=\"drain time is up\" sessions_left=%s events_unsaved=%llu",
			       gw->sessions != NULL ? "yes" : "no",
			       (unsigned long long)(s.queued + s.inflight));
		finish(gw);
	}
}

static void
start_drain(struct gw *gw)
{
	if (gw->draining)
		return;
	gw->draining = true;
	gw_log(GW_LOG_INFO, "msg=\"draining\" timeout_s=%d", gw->cfg.drain_timeout_s);
	if (gw->mqtt != NULL)
		gw_mqtt_health(gw->mqtt, "draining");
	gw_server_close_all(gw, LWS_CLOSE_STATUS_GOINGAWAY);
	gw_rest_drain(gw); /* waiting long polls answer with what they have */
	gw_smsc_drain(gw);
	gw->drain_deadline_ms = gw_mono_ms() + (uint64_t)gw->cfg.drain_timeout_s * 1000u;
	uv_timer_start(&gw->drain_timer, drain_cb, DRAIN_POLL_MS, DRAIN_POLL_MS);
}

static void
reload(struct gw *gw)
{
	struct gw_config next;
	char err[GW_CFG_ERR_MAX], ignored[512];

	if (!gw_config_load(gw->config_path, &next, err)) {
		gw_log(GW_LOG_ERR,
		       "msg=\"reload refused, keeping the running configuration\" "
		       "err=\"%s\"",
		       err);
		return;
	}
	gw_config_apply_reload(&gw->cfg, &next, ignored, sizeof(ignored));
	gw_log_set_level(gw->cfg.log_level);
	gw_auth_set_limit(gw->auth, gw->cfg.auth_fail_per_min);
	gw_recovery_reload(gw);
	gw_log(GW_LOG_INFO, "msg=\"configuration reloaded\" not_reloadable_changed=\"%s\"",
	       ignored);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct gw *gw = h->data;

	if (signum == SIGHUP)
		reload(gw);
	else
		start_drain(gw);
}

static int
check_config(const struct gw_config *cfg)
{
	char *buf = malloc(65536), err[GW_CFG_ERR_MAX];
	struct pol_config *policy;
	int n;

	if (buf == NULL)
		return 1;
	/* The policy file is checked here too: a bad profile must not wait for the start. */
	if ((policy = gw_policy_load(cfg->policy_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kyso-gateway: %s\n", err);
		free(buf);
		return 2;
	}
	gw_policy_free(policy);
	n = gw_config_dump(cfg, buf, 65536);
	if (n > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	fputs("\nconfiguration OK\n", stdout);
	free(buf);
	return 0;
}

static int
parse_args(int argc, char **argv, const char **path, bool *check)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			*path = argv[++i];
		} else if (strcmp(argv[i], "--check-config") == 0) {
			*check = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			return -1;
		}
	}
	if (*path == NULL) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int
start(struct gw *gw)
{
	char err[256];

	/* First, while no handle is active: a failure here leaves nothing running. */
	if (gw_verify_start(gw, err, sizeof(err)) != 0) {
		gw_log(GW_LOG_ERR, "msg=\"verification setup failed\" err=\"%s\"", err);
		return -1;
	}
	uv_signal_init(gw->loop, &gw->sig_term);
	uv_signal_init(gw->loop, &gw->sig_int);
	uv_signal_init(gw->loop, &gw->sig_hup);
	gw->sig_term.data = gw->sig_int.data = gw->sig_hup.data = gw;
	uv_signal_start(&gw->sig_term, signal_cb, SIGTERM);
	uv_signal_start(&gw->sig_int, signal_cb, SIGINT);
	uv_signal_start(&gw->sig_hup, signal_cb, SIGHUP);
	uv_timer_init(gw->loop, &gw->drain_timer);
	gw->drain_timer.data = gw;
	if ((gw->auth = gw_auth_new(gw->cfg.auth_fail_per_min)) == NULL)
		return -1;
	if ((gw->engine = gw_engine_new(gw)) == NULL)
		return -1;
	if (gw_db_start(gw, err, sizeof(err)) != 0) {
		gw_log(GW_LOG_ERR, "msg=\"database setup failed\" err=\"%s\"", err);
		return -1;
	}
	if ((gw->mqtt = gw_mqtt_new(gw)) == NULL)
		return -1;
	if (gw_recovery_start(gw, err, sizeof(err)) != 0) {
		gw_log(GW_LOG_ERR, "msg=\"recovery setup failed\" err=\"%s\"", err);
		return -1;
	}
	if (gw_smsc_start(gw, err, sizeof(err)) != 0) {
		gw_log(GW_LOG_ERR, "msg=\"sim channel setup failed\" err=\"%s\"", err);
		return -1;
	}
	if (gw_agent_start(gw) != 0)
		return -1;
	if (gw_smsc_channel(gw) != NULL)
		gw_engine_add_channel(gw->engine, gw_smsc_channel(gw));
	if (gw_agent_channel(gw) != NULL)
		gw_engine_add_channel(gw->engine, gw_agent_channel(gw));
	if (gw_server_start(gw, err, sizeof(err)) != 0) {
		gw_log(GW_LOG_ERR, "msg=\"listener failed\" err=\"%s\"", err);
		return -1;
	}
	gw_log(GW_LOG_INFO, "msg=\"listening\" node=%s address=%s port=%d tls=%s", gw->cfg.node_id,
	       gw->cfg.listen_address, gw->cfg.listen_port, gw->cfg.tls ? "on" : "off");
	return 0;
}

int
gw_gateway_main(int argc, char **argv)
{
	static struct gw gw; /* one per process; large (config, metrics): not on the stack */
	const char *path = NULL;
	bool check = false;
	char err[GW_CFG_ERR_MAX];
	uv_loop_t loop;

	if (parse_args(argc, argv, &path, &check) != 0)
		return 2;
	if (!gw_config_load(path, &gw.cfg, err)) {
		fprintf(stderr, "kyso-gateway: %s\n", err);
		return 2;
	}
	if (gw_smsc_check(&gw.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "kyso-gateway: %s\n", err);
		return 2;
	}
	if (check)
		return check_config(&gw.cfg);
	snprintf(gw.config_path, sizeof(gw.config_path), "%s", path);
	gw_log_set_level(gw.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	uv_loop_init(&loop);
	gw.loop = &loop;
	if (start(&gw) != 0) {
		gw.exit_code = 1;
		if (gw.db != NULL)
			finish(&gw);
	} else {
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	/* lws leaves the foreign loop cleanly when destroyed outside uv_run, then the loop runs
	 * once more to deliver every close callback (lws's, and ours from finish()). */
	if (gw.lws != NULL)
		lws_context_destroy(gw.lws);
	gw.lws = NULL;
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		gw_log(GW_LOG_WARN, "msg=\"handles left open at exit\"");
	gw_auth_free(gw.auth);
	gw_agent_free(&gw);
	gw_log(GW_LOG_INFO, "msg=\"stopped\" exit=%d", gw.exit_code);
	return gw.exit_code;
}
