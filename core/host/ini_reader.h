/* The line reader behind inih: counts lines, refuses over-long lines and
 * malformed lines, and reports section headers (including empty sections,
 * which inih never passes to its handler). */
#ifndef SVCBROKER_INI_READER_H
#define SVCBROKER_INI_READER_H

#include <stdbool.h>
#include <stdio.h>

#define SBC_INI_LINE_MAX 4096	     /* bytes, without the line end */
#define SBC_INI_FILE_MAX (16L << 20) /* bytes per configuration file */

struct sbc_ini_reader;

/* Callbacks into the loader.  `line` is the current line number. */
struct sbc_ini_events {
	/* A "[...]" header: text is what stands between the brackets,
	 * trimmed.  Return false if the section is invalid (its keys are then
	 * dropped without further messages). */
	bool (*section)(void *user, const char *text, int line);
	/* A problem with the line itself. */
	void (*error)(void *user, int line, const char *what);
};

struct sbc_ini_reader {
	FILE *f;
	const struct sbc_ini_events *ev;
	void *user;
	int line;      /* number of the line last handed to inih */
	bool indented; /* that line started with white space */
	bool header;   /* that line was a section header */
	long bytes;    /* bytes read so far */
	bool too_big;  /* SBC_INI_FILE_MAX reached (reported once) */
	char buf[SBC_INI_LINE_MAX + 2];
};

/* Parse f through inih, calling handler for every key (see ini.h; the
 * handler may read r->line and r->indented).  Returns the number of
 * problems found outside the handler (syntax), 0 if none. */
int sbc_ini_parse(FILE *f, const struct sbc_ini_events *ev, void *user,
		  int (*handler)(void *user, const char *section,
				 const char *name, const char *value),
		  struct sbc_ini_reader *r);

#endif
