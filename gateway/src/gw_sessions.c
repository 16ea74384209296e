/* gw_sessions.c -- the node's sessions (/v1/ws and REST stand-ins): the list that drain walks
 * and a table by id, in which the engine finds the session of every frame it sends (one lookup
 * per subscriber and event, so a walk of the list grew with the sessions open). */
#include "gw_int.h"

static struct gw_session **
bucket(struct gw *gw, uint64_t id)
{
	return &gw->session_by[id % GW_SESSION_BUCKETS];
}

void
gw_session_link(struct gw *gw, struct gw_session *s)
{
	struct gw_session **b;

	s->id = ++gw->next_session_id;
	s->prev = NULL;
	s->next = gw->sessions;
	if (gw->sessions != NULL)
		gw->sessions->prev = s;
	gw->sessions = s;
	b = bucket(gw, s->id);
	s->hnext = *b;
	*b = s;
}

void
gw_session_unlink(struct gw *gw, struct gw_session *s)
{
	struct gw_session **pp = bucket(gw, s->id);

	if (s->prev != NULL)
		s->prev->next = s->next;
	else if (gw->sessions == s)
		gw->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	while (*pp != NULL && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp == s)
		*pp = s->hnext;
	s->hnext = NULL;
}

struct gw_session *
gw_session_find(struct gw *gw, uint64_t id)
{
	for (struct gw_session *s = *bucket(gw, id); s != NULL; s = s->hnext)
		if (s->id == id && !s->closing)
			return s;
	return NULL;
}
