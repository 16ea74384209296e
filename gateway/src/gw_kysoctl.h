/* gw_kysoctl.h -- kysoctl's command groups that live in their own files. Each takes the
 * arguments after its group word and returns the exit code (0 done, 1 failed, 2 usage, 3 not
 * found or refused by the rules). */
#ifndef GW_KYSOCTL_H
#define GW_KYSOCTL_H

struct db_admin;

int gw_kysoctl_recovery(struct db_admin *adm, int argc, char **argv);

#endif
