/* gw_recovery_http.h -- one POST /v1/recovery/{case_id}/resolve in progress (PROTOCOL.md
 * section 9), between gw_server.c (lws) and the database. Loop thread only. */
#ifndef GW_RECOVERY_HTTP_H
#define GW_RECOVERY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct gw;
struct lws;
struct gw_rec_http;

/* For an authenticated connector client of `destination`; NULL on no memory. */
struct gw_rec_http *gw_rec_http_new(struct lws *wsi, const char *client_id, const char *destination,
                                    const char *case_id);
/* Refuses the request with this answer (text static), given once the body has been read: lws
 * sends nothing while a POST body is still arriving. */
void gw_rec_http_refuse(struct gw_rec_http *q, unsigned status, const char *text);
/* Body bytes as they arrive; beyond GW_RECOVERY_BODY_MAX they are counted out (413). */
void gw_rec_http_body(struct gw_rec_http *q, const void *in, size_t len);
/* The body is complete: parse it and resolve. The answer arrives later: the connection is
 * asked for WRITEABLE, where gw_rec_http_take_answer() hands it over. */
void gw_rec_http_complete(struct gw *gw, struct gw_rec_http *q);
/* The answer, once ready: the body is malloc'd and becomes the caller's. */
bool gw_rec_http_take_answer(struct gw_rec_http *q, unsigned *status, char **body, size_t *len);
/* The connection is done with it (answered or closed): frees now, or when the database
 * answers. */
void gw_rec_http_detach(struct gw_rec_http *q);

#endif
