/* gen_config_doc.c -- writes gw_config_doc() to the file named by its argument, so that
 * docs/config.md is regenerated from the key table rather than edited by hand. */
#include <stdio.h>
#include <stdlib.h>

#include "gw_config.h"

int
main(int argc, char **argv)
{
	char *buf = NULL;
	int n, rc = 1;
	FILE *f = NULL;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTPUT.md\n", argv[0]);
		return 2;
	}
	if ((n = gw_config_doc(NULL, 0)) < 0 || (buf = malloc((size_t)n + 1)) == NULL)
		goto out;
	if (gw_config_doc(buf, (size_t)n + 1) != n)
		goto out;
	if ((f = fopen(argv[1], "wb")) == NULL) {
		perror(argv[1]);
		goto out;
	}
	if (fwrite(buf, 1, (size_t)n, f) != (size_t)n)
		goto out;
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0)
		rc = 1;
	free(buf);
	return rc;
}
