/* libical 3.0 expanding an RRULE as it is, for the tests that compare it with RFC 5545 readers.
   stdin: one "RULE<TAB>YYYYMMDDTHHMMSS" (a floating DTSTART) per line; stdout: the dates, comma-separated (at most 60,
   none after 2100), one line per input line. */
#include <libical/ical.h>
#include <stdio.h>
#include <string.h>
int main(void){
  char line[4096];
  icalerror_set_errors_are_fatal(0);
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char *tab = strchr(line, '\t'); if(!tab){puts("ERR");fflush(stdout);continue;}
    *tab = 0;
    icalerror_clear_errno();
    struct icalrecurrencetype r = icalrecurrencetype_from_string(line);
    if (r.freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR) { puts("PARSEERR"); fflush(stdout); continue; }
    struct icaltimetype s = icaltime_from_string(tab+1);
    icalrecur_iterator *it = icalrecur_iterator_new(r, s);
    if (!it) { puts(""); fflush(stdout); continue; }
    int n=0; struct icaltimetype t;
    while (n < 60 && !icaltime_is_null_time(t = icalrecur_iterator_next(it))) {
      if (t.year > 2100) break;
      printf("%s%04d%02d%02dT%02d%02d%02d", n?",":"", t.year,t.month,t.day,t.hour,t.minute,t.second); n++;
    }
    icalrecur_iterator_free(it);
    puts(""); fflush(stdout);
  }
}
