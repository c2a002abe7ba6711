#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "system_extras.h"

int meetingd_syncfs(int fd) { return syncfs(fd); }

int meetingd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new) {
    int result = renameat2(olddirfd, old, newdirfd, new, RENAME_NOREPLACE);
    if (result == 0 || errno != EINVAL) return result;
    if (linkat(olddirfd, old, newdirfd, new, 0) != 0) return -1;
    return unlinkat(olddirfd, old, 0);
}
