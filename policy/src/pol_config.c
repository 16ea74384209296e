/* National defaults (REGULATION.md §9), the central profile and the shipped province
 * profiles (§4). Values marked S or U in REGULATION.md are defaults an operator can change
 * in the `policy` section, never rules. */
#include <stdio.h>
#include <string.h>

#include "pol_int.h"

static void
copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

struct shipped {
	const char *slug, *name, *truc;
	enum pol_regime regime;
	unsigned authorised;
	enum pol_channel channel;
};

/* §4. dong-nai is a draft (O10: H19.5 may change); ninh-binh's Trục code is unpublished
 * (O12); hai-phong's renewal/change delegation is to be confirmed (O12); quang-nam is the
 * legacy TT185 regime, probably superseded (O5). */
static const struct shipped shipped[] = {
	{ "default", "Cục Chứng thực số và Bảo mật thông tin (quy định chung)", "", POL_REGIME_ND68,
	  0, POL_CH_TRUC },
	{ "dong-nai", "Sở Khoa học và Công nghệ tỉnh Đồng Nai", "H19.5", POL_REGIME_ND68,
	  POL_AUTH_RENEW | POL_AUTH_CHANGE | POL_AUTH_RECOVER_TOKEN, POL_CH_TRUC },
	{ "hai-phong", "Sở Khoa học và Công nghệ thành phố Hải Phòng", "", POL_REGIME_ND68,
	  POL_AUTH_RECOVER_TOKEN, POL_CH_QLVB },
	{ "ninh-binh", "Sở Khoa học và Công nghệ tỉnh Ninh Bình", "", POL_REGIME_ND68,
	  POL_AUTH_RENEW | POL_AUTH_CHANGE | POL_AUTH_RECOVER_TOKEN, POL_CH_TRUC },
	{ "quang-nam", "Sở Khoa học và Công nghệ tỉnh Quảng Nam", "", POL_REGIME_LEGACY_TT185, 0,
	  POL_CH_TRUC },
};

static void
defaults_central(struct pol_central *c)
{
	copy_str(c->name, sizeof(c->name), "Cục Chứng thực số và Bảo mật thông tin");
	copy_str(c->portal, sizeof(c->portal), "https://dichvucong.ca.gov.vn");
	copy_str(c->truc_code, sizeof(c->truc_code), "G11.07.05");
	copy_str(c->email, sizeof(c->email), "ca@bcy.gov.vn");
	c->channel = POL_CH_PORTAL;
	c->sla_recover_wd = 3; /* U: assumed (O2) */
}

static void
defaults_provinces(struct pol_config *cfg)
{
	cfg->nprovinces = 0;
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		struct pol_province *p = &cfg->provinces[cfg->nprovinces++];

		copy_str(p->slug, sizeof(p->slug), shipped[i].slug);
		copy_str(p->name, sizeof(p->name), shipped[i].name);
		copy_str(p->truc_code, sizeof(p->truc_code), shipped[i].truc);
		p->regime = shipped[i].regime;
		p->authorised = shipped[i].authorised;
		p->channel_to_dost = shipped[i].channel;
	}
}

void
pol_config_defaults(struct pol_config *cfg)
{
	int32_t day = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->regime = POL_REGIME_ND68;
	cfg->new_max_years = 5;     /* B1: ND68 9 */
	cfg->renewal_max_years = 3; /* B2 */
	cfg->renewal_max_count = 1; /* B3: DN 10.1 */
	cfg->renewal_min_days_left = 30;
	cfg->change_min_days_left = 30;
	cfg->legacy_renewal_min_days_left = 60; /* ND130 63 */
	cfg->reminders_days[0] = 90;
	cfg->reminders_days[1] = 60;
	cfg->reminders_days[2] = 45;
	cfg->nreminders = 3;
	cfg->sla_issue = 3; /* S */
	cfg->sla_revoke = 3;
	cfg->sla_recover_token_dost = 1; /* HP 11.2b */
	cfg->sla_device_return = 5;      /* NB 10.6c */
	cfg->sla_renew_change = -1;      /* unknown: track only */
	cfg->escalate_at[0] = 3;
	cfg->escalate_at[1] = 5;
	cfg->block_unknown_approve = false; /* D3 */
	cfg->block_unknown_org_seal = true;
	cfg->stale_on_transfer = POL_STALE_WARN;
	/* A2: public CAs ended 31/12/2025, i.e. from 2026-01-01 00:00 local time. */
	if (pol_day_from_date(2026, 1, 1, &day) == POL_OK)
		cfg->public_ca_cutoff = (int64_t)day * POL_DAY_S - 7 * 3600;
	copy_str(cfg->email_domains[0], sizeof(cfg->email_domains[0]), "gov.vn");
	cfg->nemail_domains = 1;
	cfg->rsa_min_bits = 2048; /* TT15 Annex I */
	cfg->ecdsa_min_bits = 256;
	for (unsigned h = POL_HASH_SHA256; h <= POL_HASH_SHAKE256; h++)
		cfg->hashes_allowed |= 1u << h;
	defaults_central(&cfg->central);
	defaults_provinces(cfg);
	cfg->calendar.office_end_min = 17 * 60; /* O14: configure */
}

void
pol_config_wipe(struct pol_config *cfg)
{
	if (cfg != NULL)
		explicit_bzero(cfg, sizeof(*cfg)); /* connector HMAC secrets live here */
}

const struct pol_province *
pol_province_find(const struct pol_config *cfg, const char *slug)
{
	if (cfg == NULL || slug == NULL)
		return NULL;
	for (unsigned i = 0; i < cfg->nprovinces && i < POL_PROVINCES_MAX; i++)
		if (strcmp(cfg->provinces[i].slug, slug) == 0)
			return &cfg->provinces[i];
	return NULL;
}
