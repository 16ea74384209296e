/* smsc_err.c -- names of the module's error and state values. */
#include "smsc_int.h"

const char *
smsc_strerror(enum smsc_err e)
{
	switch (e) {
	case SMSC_OK:
		return "ok";
	case SMSC_E_NOMEM:
		return "out of memory";
	case SMSC_E_INVAL:
		return "invalid argument";
	case SMSC_E_SHORT:
		return "incomplete: more bytes needed";
	case SMSC_E_LENGTH:
		return "command_length out of bounds";
	case SMSC_E_STRUCT:
		return "malformed structure";
	case SMSC_E_CMDID:
		return "command_id not supported";
	case SMSC_E_SPACE:
		return "output buffer too small";
	case SMSC_E_CRYPTO:
		return "cipher failure";
	case SMSC_E_CC:
		return "cryptographic checksum mismatch";
	case SMSC_E_UNSUPPORTED:
		return "algorithm or security level not supported";
	case SMSC_E_TOOBIG:
		return "over its size limit";
	case SMSC_E_FULL:
		return "bounded queue or table full";
	case SMSC_E_STATE:
		return "not allowed in this state";
	case SMSC_E_DUP:
		return "duplicate";
	case SMSC_E_NOTFOUND:
		return "not found";
	case SMSC_E_BADREQ:
		return "bad kyso-v1 payload";
	case SMSC_E_TEXT:
		return "display text not encodable";
	case SMSC_E_CONFIG:
		return "invalid configuration";
	}
	return "unknown smsc error";
}

const char *
smsc_state_name(enum smsc_state s)
{
	static const char *const n[] = { "IDLE",  "CONNECTING", "BINDING",
		                         "BOUND", "UNBINDING",  "CLOSED" };

	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}
