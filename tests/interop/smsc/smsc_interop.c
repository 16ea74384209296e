/* Interop test: the kyso ESME session against npm smpp 0.5.1 acting as SMSC (smsc_server.js
 * scenario). Bind, three binary OTA submits (one throttled with a header-only 58 and resent),
 * DLRs with decimal ids matched to hex resp ids, an MO carrying a PoR (deciphered and
 * CC-verified), enquire_link both ways, then unbind. Usage: smsc_interop PORT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

#include "smsc_net.h"

struct scen {
	struct smsc_net net;
	int bound, submit_ok, submit_fail, dlr_tagged, dlr_untagged, mo, por_ok, stopped;
	uint64_t dlr_tags;
	const char *fail;
};

static const uint8_t kid3[16] = { 0x30, 0x11, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t kic3[16] = { 0x30, 0x01, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* The PoR: reassemble (single SMS here), open with SPI2 09 and the SJA5 3DES keys. */
static void
on_mo(struct scen *sc, const struct smsc_event *ev)
{
	struct smsc_reasm *r = NULL;
	struct smsc_ota_keys k;
	struct smsc_ota_rsp rsp;
	uint8_t pkt[1200], work[256], iei = 0;
	size_t n = 0;
	bool done = false;
	char src[24];

	sc->mo++;
	snprintf(src, sizeof(src), "%.*s", (int)ev->pdu->source_addr_len, ev->pdu->source_addr);
	memset(&k, 0, sizeof(k));
	memcpy(k.kic, kic3, 16);
	memcpy(k.kid, kid3, 16);
	k.kic_len = k.kid_len = 16;
	if (smsc_reasm_new(8, 8192, 30000, &r) == SMSC_OK &&
	    smsc_reasm_add(r, src, ev->pdu->short_message, ev->pdu->sm_length, 0, pkt, sizeof(pkt),
	                   &n, &iei, &done) == SMSC_OK &&
	    done && iei == 0x71 &&
	    smsc_ota_rsp_open(pkt, n, 0x09, 0x35, 0x35, &k, work, sizeof(work), &rsp) == SMSC_OK &&
	    rsp.sts == 0 && rsp.data_len == 3 && memcmp(rsp.data, "\x01\x61\x32", 3) == 0)
		sc->por_ok++;
	smsc_reasm_free(r);
	smsc_ota_keys_wipe(&k);
	if (smsc_session_mo_ack(sc->net.s, ev->seq, 0, smsc_net_now_ms()) != SMSC_OK)
		sc->fail = "mo_ack";
}

static void
on_event(void *arg, const struct smsc_event *ev)
{
	struct scen *sc = arg;

	switch (ev->kind) {
	case SMSC_EV_BOUND:
		sc->bound++;
		break;
	case SMSC_EV_SUBMIT_OK:
		sc->submit_ok++;
		printf("submit_ok tag=%llu id=%s\n", (unsigned long long)ev->tag, ev->message_id);
		break;
	case SMSC_EV_SUBMIT_FAIL:
		sc->submit_fail++;
		break;
	case SMSC_EV_DLR:
		printf("dlr tag=%llu id=%s state=%s\n", (unsigned long long)ev->tag, ev->dlr->id,
		       smsc_msg_state_name(ev->dlr->state));
		if (ev->tag != 0 && ev->dlr->state == SMSC_MS_DELIVERED) {
			sc->dlr_tagged++;
			sc->dlr_tags |= 1ull << ev->tag;
		} else {
			sc->dlr_untagged++;
		}
		break;
	case SMSC_EV_MO:
		on_mo(sc, ev);
		break;
	case SMSC_EV_STOPPED:
		sc->stopped++;
		break;
	case SMSC_EV_ALARM:
		printf("alarm status=%u %s\n", ev->status, ev->detail);
		break;
	default:
		break;
	}
}

static bool
is_bound(void *arg)
{
	return ((struct scen *)arg)->bound > 0;
}

static bool
all_seen(void *arg)
{
	struct smsc_counters c;
	struct scen *sc = arg;

	smsc_session_counters(sc->net.s, &c);
	return sc->submit_ok == 3 && sc->dlr_tagged == 3 && sc->mo == 1 && c.enquires_sent >= 1 &&
	       c.enquires_answered >= 1 && c.throttled == 1;
}

static bool
is_stopped(void *arg)
{
	return ((struct scen *)arg)->stopped > 0;
}

static int
report(const char *what, bool ok, int *failed)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		(*failed)++;
	return ok;
}

int
main(int argc, char **argv)
{
	static struct scen sc;
	struct smsc_config cfg = { .system_id = "gw",
		                   .password = "pw",
		                   .window = 10,
		                   .tps = UINT32_MAX,
		                   .enquire_ms = 700,
		                   .seed = 1 };
	uint8_t cmd[64];
	int failed = 0;

	if (argc != 2)
		return 2;
	sc.net.port = (uint16_t)strtol(argv[1], NULL, 10);
	sc.net.fd = -1;
	sc.net.user_cb = on_event;
	sc.net.user_arg = &sc;
	if (smsc_session_new(&cfg, smsc_net_event, &sc.net, &sc.net.s) != SMSC_OK ||
	    smsc_session_start(sc.net.s, smsc_net_now_ms()) != SMSC_OK)
		return 2;
	report("bind_transceiver accepted", smsc_net_run(&sc.net, is_bound, &sc, 5000), &failed);
	/* UDH 02 70 00 + the pySim 3DES command (TELECOM.md 1.7 submit_sm capture). */
	memcpy(cmd, "\x02\x70\x00", 3);
	for (uint64_t tag = 1; tag <= 3; tag++) {
		static const char hex[] =
		        "00201506093535b00011c49ac91ab8159ba5b83a54fb6385e0a5e31694f8b215fafc";
		struct smsc_submit m = { .dest_addr = "84900000000",
			                 .source_addr = "8490999",
			                 .source_ton = 1,
			                 .source_npi = 1,
			                 .esm_class = 0x40,
			                 .protocol_id = 0x7F,
			                 .data_coding = 0xF6,
			                 .registered_delivery = 1,
			                 .validity_s = 120,
			                 .sm = cmd,
			                 .sm_len = 3 + 34 };

		for (size_t i = 0; i < 34; i++) {
			unsigned v;

			sscanf(hex + 2 * i, "%2x", &v);
			cmd[3 + i] = (uint8_t)v;
		}
		if (smsc_session_submit(sc.net.s, tag, &m, smsc_net_now_ms()) != SMSC_OK)
			return 2;
	}
	smsc_net_run(&sc.net, all_seen, &sc, 15000);
	report("three submits accepted (one after a header-only 58)", sc.submit_ok == 3, &failed);
	report("no submit failed", sc.submit_fail == 0, &failed);
	report("DLRs matched to their submits (hex resp id, decimal DLR id)",
	       sc.dlr_tagged == 3 && sc.dlr_tags == 0xE && sc.dlr_untagged == 0, &failed);
	report("MO PoR deciphered and CC-verified", sc.por_ok == 1, &failed);
	{
		struct smsc_counters c;

		smsc_session_counters(sc.net.s, &c);
		report("throttled once, requeued", c.throttled == 1 && c.requeued >= 1, &failed);
		report("enquire_link both ways", c.enquires_sent >= 1 && c.enquires_answered >= 1,
		       &failed);
		report("no reconnect", c.reconnects == 0, &failed);
	}
	smsc_session_stop(sc.net.s, smsc_net_now_ms());
	report("graceful unbind", smsc_net_run(&sc.net, is_stopped, &sc, 5000), &failed);
	report("no error", sc.fail == NULL, &failed);
	smsc_session_free(sc.net.s);
	printf("%d passed, %d failed\n", 9 - failed, failed);
	return failed == 0 ? 0 : 1;
}
