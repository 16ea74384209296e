/* gw_jtext.c -- see gw_jtext.h. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "gw_jtext.h"

void
gw_jtext_free(struct gw_jtext *j)
{
	free(j->buf);
	*j = (struct gw_jtext){ 0 };
}

/* Room for n more bytes and the NUL; false (and failed) when it cannot be had. */
static bool
reserve(struct gw_jtext *j, size_t n)
{
	size_t cap;
	char *p;

	if (j->failed)
		return false;
	if (n < j->cap - j->len && j->buf != NULL)
		return true;
	if (n > ((size_t)-1) / 4 - j->len) {
		j->failed = true;
		return false;
	}
	cap = j->cap != 0 ? j->cap : 1024;
	while (cap - j->len <= n)
		cap *= 2;
	if ((p = realloc(j->buf, cap)) == NULL) {
		j->failed = true;
		return false;
	}
	j->buf = p;
	j->cap = cap;
	return true;
}

static void
put(struct gw_jtext *j, const char *s, size_t n)
{
	if (!reserve(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void
put_str(struct gw_jtext *j, const char *s)
{
	put(j, s, strlen(s));
}

/* ,"key": */
static void
put_key(struct gw_jtext *j, const char *key)
{
	put(j, ",\"", 2);
	put_str(j, key);
	put(j, "\":", 2);
}

/* "<base64>", encoded in place. */
static void
put_b64(struct gw_jtext *j, const uint8_t *bin, size_t n)
{
	size_t enc = 4 * ((n + 2) / 3);

	if (n > (size_t)0x3fffffff) { /* EVP_EncodeBlock takes an int */
		j->failed = true;
		return;
	}
	if (!reserve(j, enc + 2))
		return;
	j->buf[j->len++] = '"';
	j->len += (size_t)EVP_EncodeBlock((unsigned char *)j->buf + j->len, bin, (int)n);
	j->buf[j->len++] = '"';
	j->buf[j->len] = '\0';
}

void
gw_jtext_b64(struct gw_jtext *j, const char *key, const uint8_t *bin, size_t n)
{
	put_key(j, key);
	put_b64(j, bin, n);
}

void
gw_jtext_str(struct gw_jtext *j, const char *key, const char *value)
{
	json_t *v = json_string(value);
	char *txt = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(v);
	if (txt == NULL) {
		j->failed = true;
		return;
	}
	put_key(j, key);
	put_str(j, txt);
	free(txt);
}

void
gw_jtext_array_open(struct gw_jtext *j, const char *key)
{
	put_key(j, key);
	put(j, "[", 1);
}

void
gw_jtext_b64_item(struct gw_jtext *j, const uint8_t *bin, size_t n)
{
	if (!j->failed && j->len > 0 && j->buf[j->len - 1] != '[')
		put(j, ",", 1);
	put_b64(j, bin, n);
}

void
gw_jtext_array_close(struct gw_jtext *j)
{
	put(j, "]", 1);
}

char *
gw_jtext_splice(char *obj, const struct gw_jtext *j)
{
	size_t n = obj != NULL ? strlen(obj) : 0;
	size_t skip;
	char *out;

	if (n < 2 || obj[0] != '{' || obj[n - 1] != '}' || j->failed) {
		free(obj);
		return NULL;
	}
	if (j->len == 0)
		return obj;
	/* An empty object takes the members without their leading comma. */
	skip = n == 2 ? 1 : 0;
	if ((out = realloc(obj, n + j->len - skip + 1)) == NULL) {
		free(obj);
		return NULL;
	}
	memcpy(out + n - 1, j->buf + skip, j->len - skip);
	out[n - 1 + j->len - skip] = '}';
	out[n + j->len - skip] = '\0';
	return out;
}
