#ifndef __linux__
#error "meetingd builds on Linux only: it needs syncfs(2), renameat2(2) and inotify(7)"
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "system_extras.h"

int meetingd_syncfs(int fd) { return syncfs(fd); }

int meetingd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new) {
    int result = renameat2(olddirfd, old, newdirfd, new, RENAME_NOREPLACE);
    if (result == 0 || (errno != EINVAL && errno != ENOSYS)) return result;
    struct stat info;
    if (fstatat(olddirfd, old, &info, AT_SYMLINK_NOFOLLOW) != 0) return -1;
    if (S_ISDIR(info.st_mode)) {
        /* A folder cannot be hard-linked: check, then rename (only meetingd writes its destination folders). */
        if (fstatat(newdirfd, new, &info, AT_SYMLINK_NOFOLLOW) == 0) {
            errno = EEXIST;
            return -1;
        }
        return renameat(olddirfd, old, newdirfd, new);
    }
    /* A crash between the two leaves one file under both names; the pipeline finishes such a move. */
    if (linkat(olddirfd, old, newdirfd, new, 0) != 0) return -1;
    return unlinkat(olddirfd, old, 0);
}

int meetingd_thread_id(void) { return (int)syscall(SYS_gettid); }

int meetingd_set_background(int tid, int background) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler(tid, background ? SCHED_IDLE : SCHED_OTHER, &param);
}

int meetingd_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

int meetingd_exchange_into_place(int dirfd, const char *temporary, const char *name) {
    if (renameat2(dirfd, temporary, dirfd, name, RENAME_EXCHANGE) == 0) {
        /* The new file is in place: an old one left behind is a temporary file, removed at the next start. */
        unlinkat(dirfd, temporary, 0);
        return 0;
    }
    /* Nothing to exchange with yet (ENOENT), or a file system without the flag: a plain rename. */
    if (errno != ENOENT && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return -1;
    return renameat(dirfd, temporary, dirfd, name);
}
