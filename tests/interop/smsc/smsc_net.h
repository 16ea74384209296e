/* smsc_net.h -- a minimal poll(2) driver for one smsc_session over TCP on 127.0.0.1, for the
 * interop test and the benchmark (the gateway has its own, on libuv). TCP_NODELAY, one write
 * per PDU. */
#ifndef SMSC_NET_H
#define SMSC_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <kyso/smsc.h>

struct smsc_net {
	struct smsc_session *s;
	uint16_t port;
	int fd;
	bool want_connect;
	uint8_t out[4096];
	size_t out_len, out_off;
	smsc_event_fn *user_cb; /* the test's handler, called for every event */
	void *user_arg;
};

uint64_t smsc_net_now_ms(void);
/* Routes the session's events: CONNECT/CLOSE are handled here, then passed to user_cb. */
void smsc_net_event(void *arg, const struct smsc_event *ev);
/* Runs until done(arg) is true or timeout_ms passes; false on timeout. */
bool smsc_net_run(struct smsc_net *n, bool (*done)(void *), void *arg, uint64_t timeout_ms);

#endif
