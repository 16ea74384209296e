/* Cross-file internals of kyso_pol. Not installed, not for other modules. */
#ifndef KYSO_POL_INT_H
#define KYSO_POL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/pol.h>

#define POL_DAY_S 86400

/* Decision builders: every rule reports through these so that the verdict, the deciding
 * reason and the task list are computed in one place. */
void pol__decision_init(struct pol_decision *d);
void pol__deny(struct pol_decision *d, enum pol_reason r, const char *rule);
void pol__warn(struct pol_decision *d, enum pol_reason r, const char *rule);
void pol__cosign(struct pol_decision *d, enum pol_role role, const char *rule);
void pol__task(struct pol_decision *d, enum pol_task t, const char *rule);

/* String helpers for possibly-NULL borrowed strings. */
bool pol__str_eq(const char *a, const char *b); /* both non-NULL and equal */
bool pol__str_set(const char *s);               /* non-NULL and non-empty */
/* `cls` (NULL = "general") is in the list, or the list holds "*". */
bool pol__class_in(const char *const *classes, size_t n, const char *cls);

/* Civil date + years (29 Feb → 28 Feb), as the Unix time of the same time of day. */
int64_t pol__add_years(int64_t t, int years);

#endif /* KYSO_POL_INT_H */
