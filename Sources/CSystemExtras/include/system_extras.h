#ifndef MEETINGD_SYSTEM_EXTRAS_H
#define MEETINGD_SYSTEM_EXTRAS_H
/// syncfs(2): flush every dirty page of the file system that holds `fd`. It is a GNU extension that
/// Swift's Glibc module does not import; meetingd uses it as the one durability barrier of a batch.
int meetingd_syncfs(int fd);
#endif
