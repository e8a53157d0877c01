// SPDX-License-Identifier: GPL-2.0-only
/* The run engine's /proc parsing (procfs.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

/* The value after "@key" at the start of a line of @text, or NULL. */
static const char *line_value(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, n))
			return p + n;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

bool procfs_fdinfo_flags(const char *text, unsigned long *flags)
{
	const char *v = line_value(text, "flags:");
	char *end;

	if (!v)
		return false;
	*flags = strtoul(v, &end, 8);
	return end != v;
}

unsigned long long procfs_fdinfo_ino(const char *text)
{
	const char *v = line_value(text, "ino:");
	unsigned long long ino;
	char *end;

	if (!v)
		return 0;
	ino = strtoull(v, &end, 10);
	return end != v && (*end == '\n' || !*end) ? ino : 0;
}

pid_t procfs_status_tgid(const char *text)
{
	const char *v = line_value(text, "Tgid:");
	char *end;
	long tgid;

	if (!v)
		return -1;
	tgid = strtol(v, &end, 10);
	return end != v && tgid > 0 ? (pid_t)tgid : -1;
}

bool procfs_epoll_entry(const char *line, int fd, unsigned long ino, unsigned int *events,
			unsigned long long *data)
{
	unsigned long long d;
	unsigned long tino;
	unsigned int ev;
	long long pos;
	int tfd;

	if (sscanf(line, " tfd: %d events: %x data: %llx pos:%lli ino:%lx", &tfd, &ev, &d, &pos,
		   &tino) != 5 || tfd != fd || tino != ino)
		return false;
	*events = ev;
	*data = d;
	return true;
}

bool procfs_socket_inode(const char *link, unsigned long long *ino)
{
	char tail;

	return sscanf(link, "socket:[%llu%c", ino, &tail) == 2 && tail == ']';
}

bool procfs_is_epoll(const char *link)
{
	return !strcmp(link, "anon_inode:[eventpoll]");
}
