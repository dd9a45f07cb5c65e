#include <stdint.h>
#include <string.h>

#include "ctl_text.h"
#include "utf8.h"

void
ctl_put_text(FILE *out, const char *s, int width)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 left = strlen(s), n;
	uint32_t		 cp;
	int			 col = 0;

	while (left > 0) {
		n = utf8_decode(u, left, &cp);
		if (n > 0 && !utf8_is_control(cp)) {
			fwrite(u, 1, n, out);
			col++;
		} else {
			n = n > 0 ? n : 1;
			for (size_t i = 0; i < n; i++)
				fprintf(out, "\\x%02x", u[i]);
			col += 4 * (int)n;
		}
		u += n;
		left -= n;
	}
	for (; col < width; col++)
		putc(' ', out);
}

void
ctl_put_json(FILE *out, const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 n;
	uint32_t		 cp;

	putc('"', out);
	for (; len > 0; u += n, len -= n) {
		n = utf8_decode(u, len, &cp);
		if (n == 0) {
			fputs("\\ufffd", out);
			n = 1;
		} else if (cp == '"' || cp == '\\')
			fprintf(out, "\\%c", (char)cp);
		else if (utf8_is_control(cp))
			fprintf(out, "\\u%04x", (unsigned)cp);
		else
			fwrite(u, 1, n, out);
	}
	putc('"', out);
}
