/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Cgroup names and file paths are bytes, JSON and the Prometheus text format
 * are UTF-8: every string that leaves in one of those goes through here, and
 * a byte that does not start a valid sequence becomes U+FFFD.
 */
#ifndef MU_UTF8_H
#define MU_UTF8_H

#include <stddef.h>

#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * Length of the valid UTF-8 sequence at @s (1 to 4), or 0 when the byte there
 * does not start one: overlong forms, surrogates and code points past
 * U+10FFFF are invalid, as RFC 3629 says.
 */
static inline size_t utf8_seq_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

#endif /* MU_UTF8_H */
