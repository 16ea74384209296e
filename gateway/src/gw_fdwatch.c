/* gw_fdwatch.c -- uv_poll on sockets that a library owns and may swap at any call. */
#include <stdlib.h>

#include "gw_int.h"

static void
fdwatch_free_cb(uv_handle_t *h)
{
	free(h);
}

void
gw_fdwatch_stop(struct gw_fdwatch *w)
{
	if (w->poll != NULL) {
		uv_close((uv_handle_t *)w->poll, fdwatch_free_cb);
		w->poll = NULL;
	}
	w->fd = -1;
	w->events = 0;
}

/* Call after every library call that may touch the socket. The libraries we watch (db/,
 * libmosquitto) report -1 for a socket they drop before they close it, so an unchanged
 * (fd, events) pair means the same socket and needs no re-registration. */
int
gw_fdwatch_sync(struct gw_fdwatch *w, uv_loop_t *loop, int fd, int events)
{
	int rc;

	if (w->poll != NULL && w->fd != fd)
		gw_fdwatch_stop(w);
	if (fd < 0)
		return 0;
	if (w->poll == NULL) {
		if ((w->poll = calloc(1, sizeof(*w->poll))) == NULL)
			return UV_ENOMEM;
		if ((rc = uv_poll_init(loop, w->poll, fd)) != 0) {
			free(w->poll);
			w->poll = NULL;
			return rc;
		}
		w->poll->data = w;
		w->fd = fd;
		w->events = -1;
	}
	if (w->events == events)
		return 0;
	w->events = events;
	return uv_poll_start(w->poll, events, w->cb);
}
