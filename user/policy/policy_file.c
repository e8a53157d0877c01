// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading policy files: any file (or standard input) for `mptcp-upgrade
 * policy`, and, for attach and reload, only a file that root alone controls,
 * opened once and checked on the open descriptor, whose hash describes the very
 * bytes that were parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "common/sha256.h"

static int read_all(int fd, char **bufp, size_t *lenp)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap), *n;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= POLICY_MAX_FILE_SIZE) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			n = realloc(buf, cap);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			return r;
		}
		if (!r)
			break;
		len += r;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int read_error(const char *name, int ret, struct policy_error *err)
{
	snprintf(err->msg, sizeof(err->msg), "can't read policy file %s: %s", name,
		 ret == -EFBIG ? "larger than 64 MiB, not a policy file" : strerror(-ret));
	return -1;
}

int policy_load_file(const char *path, struct policy *pol, struct policy_error *err)
{
	bool is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "<stdin>" : path;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret;

	policy_init(pol);
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "can't open policy file %s: %s", name,
			 strerror(errno));
		return -1;
	}
	ret = read_all(fd, &buf, &len);
	if (!is_stdin)
		close(fd);
	if (ret)
		return read_error(name, ret, err);
	ret = policy_parse_buffer(name, buf, len, pol, err);
	free(buf);
	return ret;
}

/*
 * Owned by root, and writable by nobody else: not by others, and not by a
 * group other than root's. A directory with the sticky bit (/tmp) is fine
 * writable, since nobody but root can then rename or remove root's entries.
 */
static int check_owner(const char *what, const char *path, const struct stat *st, bool dir,
		       struct policy_error *err)
{
	if (st->st_uid != 0) {
		snprintf(err->msg, sizeof(err->msg), "%s %s is owned by uid %u, not root: refusing "
			 "it (chown root %s)", what, path, (unsigned int)st->st_uid, path);
		return -1;
	}
	if (dir && (st->st_mode & S_ISVTX))
		return 0;
	if (st->st_mode & S_IWOTH) {
		snprintf(err->msg, sizeof(err->msg), "%s %s is world-writable: refusing it (chmod "
			 "o-w %s)", what, path, path);
		return -1;
	}
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0) {
		snprintf(err->msg, sizeof(err->msg), "%s %s is writable by group %u: refusing it "
			 "(chmod g-w %s)", what, path, (unsigned int)st->st_gid, path);
		return -1;
	}
	return 0;
}

/* Every directory above @resolved (an absolute path without links) must be root's alone. */
static int check_directories(const char *resolved, struct policy_error *err)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", resolved);
	while ((slash = strrchr(dir, '/'))) {
		if (slash == dir)
			slash[1] = '\0';	/* "/" itself */
		else
			*slash = '\0';
		if (stat(dir, &st)) {
			snprintf(err->msg, sizeof(err->msg), "can't check directory %.400s: %s", dir,
				 strerror(errno));
			return -1;
		}
		if (check_owner("directory", dir, &st, true, err))
			return -1;
		if (!strcmp(dir, "/"))
			break;
	}
	return 0;
}

/*
 * Open @path as attach, reload and run accept a policy file: every directory
 * above it and the file root's alone, a regular file. The descriptor, or -1
 * with the reason in @err.
 */
static int open_trusted(const char *path, char resolved[PATH_MAX], struct policy_error *err)
{
	struct stat st;
	int fd, ret;

	if (!realpath(path, resolved)) {
		snprintf(err->msg, sizeof(err->msg), "can't open policy file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (check_directories(resolved, err))
		return -1;
	/*
	 * The resolved path has no link left: O_NOFOLLOW refuses one put there
	 * since. O_NONBLOCK keeps a FIFO from blocking open(); fstat refuses it.
	 */
	fd = open(resolved, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "can't open policy file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return read_error(path, ret, err);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "policy file %s is not a regular file: "
			 "refusing it (attach and reload read it again later, so it must be a file)",
			 path);
		close(fd);
		return -1;
	}
	if (check_owner("policy file", path, &st, false, err)) {
		close(fd);
		return -1;
	}
	return fd;
}

int policy_check_trusted(const char *path, struct policy_error *err)
{
	char resolved[PATH_MAX];
	int fd = open_trusted(path, resolved, err);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int policy_load_trusted(const char *path, struct policy *pol, char resolved[PATH_MAX],
			char sha256[65], struct policy_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, ret;

	policy_init(pol);
	fd = open_trusted(path, resolved, err);
	if (fd < 0)
		return -1;
	ret = read_all(fd, &buf, &len);
	close(fd);
	if (ret)
		return read_error(path, ret, err);
	sha256_hex(buf, len, sha256);
	ret = policy_parse_buffer(path, buf, len, pol, err);
	free(buf);
	return ret;
}
