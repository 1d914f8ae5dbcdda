/* The request header fields the API's security reads (see reqhdr.h). */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "reqhdr.h"

const char *sbc_bearer_token(const char *auth, char *buf, size_t n)
{
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	auth += 7;
	while (*auth == ' ' || *auth == '\t')
		auth++;
	size_t len = strlen(auth);
	while (len && (auth[len - 1] == ' ' || auth[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= n)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)auth[i] <= 0x20 || auth[i] == 0x7f)
			return NULL;
	memcpy(buf, auth, len);
	buf[len] = '\0';
	return buf;
}

bool sbc_request_id_ok(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++) {
		unsigned char ch = (unsigned char)id[n];
		if (n >= SBC_REQUEST_ID_MAX || ch <= 0x20 || ch >= 0x7f ||
		    ch == '"' || ch == '\\')
			return false;
	}
	return n > 0;
}

/* Is the q of the parameters p[0..n) ("; q=0.5") zero? */
static bool q_zero(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if ((p[i] != 'q' && p[i] != 'Q') || p[i + 1] != '=')
			continue;
		if (i > 0 && p[i - 1] != ';' && p[i - 1] != ' ' &&
		    p[i - 1] != '\t')
			continue;
		size_t k = i + 2;
		if (k >= n || p[k] != '0')
			return false;
		for (k++; k < n && (p[k] == '.' || p[k] == '0'); k++)
			;
		return k == n || p[k] == ' ' || p[k] == ';' || p[k] == '\t';
	}
	return false;
}

bool sbc_accepts_gzip(const char *ae)
{
	const char *p = ae;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		size_t name = strcspn(p, ";, \t");
		if (name > n)
			name = n;
		bool gz = (name == 4 && strncasecmp(p, "gzip", 4) == 0) ||
			  (name == 6 && strncasecmp(p, "x-gzip", 6) == 0) ||
			  (name == 1 && p[0] == '*');
		if (gz)
			return !q_zero(p + name, n - name);
		p += n;
	}
	return false;
}
