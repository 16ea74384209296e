/* gw_kysoctl.h -- kysoctl's command groups that live in their own files. Each takes the
 * arguments after its group word and returns the exit code (enum kc_exit of gw_kysoctl_int.h). */
#ifndef GW_KYSOCTL_H
#define GW_KYSOCTL_H

struct kc;

int gw_kysoctl_recovery(struct kc *kc, int argc, char **argv);

#endif
