/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the run engine reads in /proc, parsed from the text alone so that the
 * parsing is tested on fixtures (selftests/test_procfs.c) and the callers
 * only open and read.
 */
#ifndef MU_PROCFS_H
#define MU_PROCFS_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * /proc/PID/fdinfo/FD: its "flags:" line (octal: O_NONBLOCK, O_CLOEXEC and the
 * access mode) in @flags; false without one.
 */
bool procfs_fdinfo_flags(const char *text, unsigned long *flags);

/*
 * /proc/PID/fdinfo/FD: its "ino:" line (decimal, 5.14+), the inode of the file
 * there; 0 without one.
 */
unsigned long long procfs_fdinfo_ino(const char *text);

/* /proc/TID/status: its "Tgid:" line; -1 without one. */
pid_t procfs_status_tgid(const char *text);

/*
 * One line of an epoll's /proc/PID/fdinfo/EPFD: "tfd: FD events: HEX data: HEX
 * pos:N ino:HEX ...". True when it is the registration of descriptor @fd on
 * inode @ino, with its events and data.
 */
bool procfs_epoll_entry(const char *line, int fd, unsigned long ino, unsigned int *events,
			unsigned long long *data);

/* A /proc/PID/fd link "socket:[INODE]": its inode; false for anything else. */
bool procfs_socket_inode(const char *link, unsigned long long *ino);

/* A /proc/PID/fd link of an epoll instance ("anon_inode:[eventpoll]"). */
bool procfs_is_epoll(const char *link);

#endif /* MU_PROCFS_H */
