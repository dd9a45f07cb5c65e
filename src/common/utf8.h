/*
 * UTF-8 as text from outside arrives: decoded strictly (no overlong form,
 * no surrogate, nothing past U+10FFFF), and the code points a terminal
 * acts on rather than shows, so that no reader prints them raw.
 */
#ifndef TG_UTF8_H
#define TG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the valid sequence at s, of at most n bytes; 0 if none. */
size_t	 utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * C0, DEL and C1 controls (a terminal runs U+009B as CSI), the bidi
 * controls that make a line read in another order than it is (U+202E),
 * and the line and paragraph separators.
 */
bool	 utf8_is_control(uint32_t cp);

#endif
