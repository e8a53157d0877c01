// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel lockdown mode, which check reports beside a refused trampoline.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockdown.h"

#define LOCKDOWN_FILE "/sys/kernel/security/lockdown"

/* "[integrity]" out of "none [integrity] confidentiality". */
static int read_lockdown(char *buf, size_t size)
{
	FILE *f = fopen(LOCKDOWN_FILE, "re");
	char line[128], *open_b, *close_b;
	bool ok;

	if (!f)
		return -1;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	open_b = ok ? strchr(line, '[') : NULL;
	close_b = open_b ? strchr(open_b, ']') : NULL;
	if (!close_b)
		return -1;
	*close_b = '\0';
	snprintf(buf, size, "%s", open_b + 1);
	return 0;
}

/*
 * The kernel lockdown mode, or NULL when it can't be read. securityfs is often
 * not mounted; a child mounts it in a private mount namespace of its own, so
 * the machine's mounts stay as they are.
 */
const char *lockdown_mode(char *buf, size_t size)
{
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (!read_lockdown(buf, size))
		return buf;
	if (pipe2(pipefd, O_CLOEXEC))
		return NULL;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return NULL;
	}
	if (!pid) {
		char mode[32];

		close(pipefd[0]);
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) ||
		    read_lockdown(mode, sizeof(mode)))
			_exit(1);
		_exit(write(pipefd[1], mode, strlen(mode)) > 0 ? 0 : 1);
	}
	close(pipefd[1]);
	n = read(pipefd[0], buf, size - 1);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return NULL;
	buf[n] = '\0';
	return buf;
}
