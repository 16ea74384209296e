/* kysoctl's entry point (the work is in gw_kysoctl.c). */
#include <kyso/gw.h>

int
main(int argc, char **argv)
{
	return gw_kysoctl_main(argc, argv);
}
