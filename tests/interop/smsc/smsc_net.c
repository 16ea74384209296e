/* smsc_net.c -- poll(2) driver for one smsc_session (tests and benchmark only). */
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smsc_net.h"

uint64_t
smsc_net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
smsc_net_event(void *arg, const struct smsc_event *ev)
{
	struct smsc_net *n = arg;

	if (ev->kind == SMSC_EV_CONNECT)
		n->want_connect = true;
	if (ev->kind == SMSC_EV_CLOSE && n->fd >= 0) {
		close(n->fd);
		n->fd = -1;
		n->out_len = n->out_off = 0;
	}
	if (n->user_cb != NULL)
		n->user_cb(n->user_arg, ev);
}

static void
do_connect(struct smsc_net *n)
{
	struct sockaddr_in sa;
	int one = 1, fd;

	n->want_connect = false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(n->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		if (fd >= 0)
			close(fd);
		smsc_session_disconnected(n->s, smsc_net_now_ms());
		return;
	}
	n->fd = fd;
	smsc_session_connected(n->s, smsc_net_now_ms());
}

/* Writes pending bytes, then one PDU per take() until nothing is due or the socket is full. */
static void
flush(struct smsc_net *n)
{
	while (n->fd >= 0) {
		ssize_t w;

		if (n->out_off == n->out_len) {
			size_t len;

			n->out_off = n->out_len = 0;
			if (smsc_session_take(n->s, n->out, sizeof(n->out), &len,
			                      smsc_net_now_ms()) != SMSC_OK)
				return;
			n->out_len = len;
		}
		w = write(n->fd, n->out + n->out_off, n->out_len - n->out_off);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				smsc_session_disconnected(n->s, smsc_net_now_ms());
			return;
		}
		n->out_off += (size_t)w;
	}
}

bool
smsc_net_run(struct smsc_net *n, bool (*done)(void *), void *arg, uint64_t timeout_ms)
{
	uint64_t end = smsc_net_now_ms() + timeout_ms;
	uint8_t buf[8192];

	while (!done(arg)) {
		uint64_t now = smsc_net_now_ms(), dl;
		struct pollfd p = { .fd = n->fd, .events = POLLIN };
		int wait_ms;

		if (now >= end)
			return false;
		if (n->want_connect)
			do_connect(n);
		flush(n);
		dl = smsc_session_next_deadline(n->s);
		wait_ms = dl <= now ? 0 : dl - now > 50 ? 50 : (int)(dl - now);
		if (n->out_off < n->out_len)
			p.events |= POLLOUT;
		p.fd = n->fd;
		if (poll(&p, 1, wait_ms) > 0 && n->fd >= 0 && (p.revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(n->fd, buf, sizeof(buf));

			if (r > 0)
				smsc_session_feed(n->s, buf, (size_t)r, smsc_net_now_ms());
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				smsc_session_disconnected(n->s, smsc_net_now_ms());
		}
		smsc_session_tick(n->s, smsc_net_now_ms());
	}
	return true;
}
