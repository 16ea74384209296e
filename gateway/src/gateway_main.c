/* kyso-gateway's entry point (the work is in gw_main.c). */
#include <kyso/gw.h>

int
main(int argc, char **argv)
{
	return gw_gateway_main(argc, argv);
}
