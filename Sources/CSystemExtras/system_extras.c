#define _GNU_SOURCE
#include <unistd.h>
#include "system_extras.h"

int meetingd_syncfs(int fd) { return syncfs(fd); }
