/* OpenSSL's error queue as text, for diagnostics in any role. */
#include <openssl/err.h>

#include "tls.h"

const char *
tls_error_string(void)
{
	static char	 buf[256];
	unsigned long	 e = ERR_get_error();

	if (e == 0)
		return "no OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}
