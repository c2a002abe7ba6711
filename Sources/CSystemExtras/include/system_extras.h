#ifndef MEETINGD_SYSTEM_EXTRAS_H
#define MEETINGD_SYSTEM_EXTRAS_H
/// syncfs(2): flush every dirty page of the file system that holds `fd`. It is a GNU extension that
/// Swift's Glibc module does not import; meetingd uses it as the one durability barrier of a batch.
int meetingd_syncfs(int fd);

/// renameat2(2) with RENAME_NOREPLACE: moves `old` to `new` only if `new` does not exist (EEXIST otherwise),
/// in one step, so a destination is claimed atomically. Where the file system lacks the flag (EINVAL), a
/// hard link and an unlink do the same for anything but a directory.
int meetingd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new);

/// The calling thread's id (gettid(2)), which Swift's Glibc module does not import.
int meetingd_thread_id(void);

/// Moves thread `tid` (0: the calling thread) into the background (SCHED_IDLE: it runs only when nothing
/// else wants the CPU) or back (SCHED_OTHER). 0, or -1 with errno (EPERM: moving back needs RLIMIT_NICE 20
/// or CAP_SYS_NICE).
int meetingd_set_background(int tid, int background);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writing `fd`'s dirty pages to the disk from the
/// calling thread, without waiting for them to be written.
int meetingd_start_writeback(int fd);

/// Puts `temporary` in the place of `name` (both in `dirfd`) atomically, as rename(2) does, but by exchanging
/// the two (renameat2 RENAME_EXCHANGE) and then removing the old file, now under the temporary name. ext4
/// answers a rename over an existing file (auto_da_alloc) by starting to write the new file's data at once;
/// after an exchange the data stays in the page cache until a barrier or the kernel's writeback, and a
/// version replaced before then is never written at all. Measured: twenty 1.9 MB replacements of one file,
/// 38 MB written by rename, none by exchange. A plain rename where there is nothing to exchange with yet, or
/// the file system lacks the flag. 0, or -1 with errno.
int meetingd_exchange_into_place(int dirfd, const char *temporary, const char *name);
#endif
