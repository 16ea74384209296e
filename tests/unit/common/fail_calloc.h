/* fail_calloc.h -- makes one chosen calloc call of a unit test fail, to walk every allocation
 * failure path of the code under test in turn. The test links with -Wl,--wrap=calloc
 * (kyso_unit_test ... WRAP calloc) and compiles fail_calloc.c; only calls from the program's own
 * objects are counted, not those inside shared libraries. */
#ifndef FAIL_CALLOC_H
#define FAIL_CALLOC_H

/* From now on the nth calloc call (1: the next one) returns NULL; 0: none does. Restarts the
 * count. */
void fail_calloc_at(int n);
/* calloc calls since the last fail_calloc_at, the failed one included. */
int fail_calloc_calls(void);

#endif
