/*
 * Text tunnelgatectl did not write itself (audit lines, the daemon's
 * tunnel table: names a client chose) goes out only through these, so
 * that nothing a terminal acts on reaches the admin's (utf8.h).
 */
#ifndef TG_CTL_TEXT_H
#define TG_CTL_TEXT_H

#include <stddef.h>
#include <stdio.h>

/*
 * s for a terminal, padded with blanks to width characters: each byte of
 * a control (utf8_is_control) or of invalid UTF-8 as \xNN.
 */
void	 ctl_put_text(FILE *out, const char *s, int width);

/*
 * s as a JSON string, quotes included: controls as \uXXXX, invalid UTF-8
 * as \ufffd (as tunnelgated writes the audit log).
 */
void	 ctl_put_json(FILE *out, const char *s, size_t len);

#endif
