/* fail_calloc.c -- calloc that fails on the chosen call (fail_calloc.h). */
#include <stddef.h>

#include "fail_calloc.h"

static int fail_at; /* the call that fails, 0: none */
static int calls;   /* since the last fail_calloc_at */

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *
__wrap_calloc(size_t n, size_t size)
{
	if (fail_at > 0 && ++calls == fail_at)
		return NULL;
	return __real_calloc(n, size);
}

void
fail_calloc_at(int n)
{
	fail_at = n;
	calls = 0;
}

int
fail_calloc_calls(void)
{
	return calls;
}
