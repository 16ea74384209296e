/* gw_jtext.h -- JSON object members appended as text, for the large base64 members of a frame
 * (CMS, certificates). Base64 needs no JSON escaping, so these bytes are encoded once straight
 * into the text instead of passing through a jansson string, which copies and UTF-8-checks
 * them and then escapes them again character by character when the frame is dumped. Pure: no
 * loop, no I/O; one owner at a time. */
#ifndef GW_JTEXT_H
#define GW_JTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Members text such as `,"cms":"MII...","chain":["MII..."]`: each member starts with a comma.
 * Zero-initialise; release with gw_jtext_free(). A failed allocation sets failed and makes
 * every later append a no-op. */
struct gw_jtext {
	char *buf; /* NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
	bool failed;
};

void gw_jtext_free(struct gw_jtext *j);

/* `,"key":"<base64 of bin>"`. key: a constant that needs no escaping. */
void gw_jtext_b64(struct gw_jtext *j, const char *key, const uint8_t *bin, size_t n);

/* `,"key":"<value, JSON-escaped>"`, for short strings. value must be UTF-8 (as any string
 * jansson parsed is); otherwise the text fails. */
void gw_jtext_str(struct gw_jtext *j, const char *key, const char *value);

/* `,"key":[` ... `]` around gw_jtext_b64_item() calls: an array of base64 strings. */
void gw_jtext_array_open(struct gw_jtext *j, const char *key);
void gw_jtext_b64_item(struct gw_jtext *j, const uint8_t *bin, size_t n);
void gw_jtext_array_close(struct gw_jtext *j);

/* The serialised object obj (malloc'd, `{...}`, consumed) with j's members added before its
 * closing brace. NULL (obj freed) when obj is not an object's text, j failed or memory ran
 * out. j is left unchanged; an empty j returns obj itself. */
char *gw_jtext_splice(char *obj, const struct gw_jtext *j);

#endif
