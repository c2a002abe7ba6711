#ifndef MEETINGD_SYSTEM_EXTRAS_H
#define MEETINGD_SYSTEM_EXTRAS_H
/// syncfs(2): flush every dirty page of the file system that holds `fd`. It is a GNU extension that
/// Swift's Glibc module does not import; meetingd uses it as the one durability barrier of a batch.
int meetingd_syncfs(int fd);

/// renameat2(2) with RENAME_NOREPLACE: moves `old` to `new` only if `new` does not exist (EEXIST otherwise),
/// in one step, so a destination is claimed atomically. Where the file system lacks the flag (EINVAL), a
/// hard link and an unlink do the same for anything but a directory.
int meetingd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new);
#endif
