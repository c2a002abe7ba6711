#ifndef MEETINGD_CLIBICAL_SHIM_H
#define MEETINGD_CLIBICAL_SHIM_H
// libical.pc only adds -I/usr/include, so the header is reached through its folder.
#include <libical/ical.h>
#endif
