/* kyso/gw.h -- the gateway's two programs, as library entry points.
 *
 * kyso-gateway and kysoctl are thin main() functions over these, so that tests and the
 * benchmark can start them in-process if they need to. Each returns the process exit status
 * (0 ok, 1 runtime failure, 2 usage or configuration error). Main thread only.
 */
#ifndef KYSO_GW_H
#define KYSO_GW_H

/* Runs the daemon: `kyso-gateway --config FILE [--check-config]`. Returns after SIGTERM or
 * SIGINT has drained the node. */
int gw_gateway_main(int argc, char **argv);

/* The administration tool: `kysoctl [--db CONNINFO] COMMAND ...` (see `kysoctl --help`). */
int gw_kysoctl_main(int argc, char **argv);

#endif
