// SPDX-License-Identifier: GPL-2.0-only
/*
 * The two ends of the seccomp hand-off between a container runtime and the
 * agent, for selftests/test_seccomp_profile.sh. Linked statically, so that
 * the same binary is the container's only program.
 *
 *   seccomp_listener listen SOCKPATH OUT
 *       what a runtime finds at the profile's listenerPath: accept one
 *       connection, take the fd and the state JSON the runtime sends (written
 *       to OUT.json), say what the fd is ("fd=anon_inode:seccomp notify" in
 *       OUT), then answer every notification with CONTINUE and write one line
 *       per call to OUT ("call bind", "call fcntl cmd=1030") until the
 *       container's last task is gone.
 *   seccomp_listener probe
 *       the container's program: the calls the profile notifies and some it
 *       must let through, each reported as name=ok or name=<errno name>.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *call_name(int nr)
{
	switch (nr) {
	case __NR_bind: return "bind";
	case __NR_connect: return "connect";
	case __NR_dup: return "dup";
	case __NR_dup2: return "dup2";
	case __NR_dup3: return "dup3";
	case __NR_fcntl: return "fcntl";
	case __NR_clone: return "clone";
	case __NR_clone3: return "clone3";
	case __NR_fork: return "fork";
	case __NR_vfork: return "vfork";
	case __NR_epoll_create: return "epoll_create";
	case __NR_epoll_create1: return "epoll_create1";
	case __NR_sendto: return "sendto";
	case __NR_sendmsg: return "sendmsg";
	default: return "other";
	}
}

static int do_listen(const char *path, const char *out_path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[65536], cbuf[CMSG_SPACE(4 * sizeof(int))], link[128], proc[64], json[4096];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd;
	struct cmsghdr *c;
	int s, conn, fd = -1;
	ssize_t n, l;
	FILE *out, *js;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sun, sizeof(sun)) || listen(s, 4)) {
		perror("listen");
		return 1;
	}
	pfd = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&pfd, 1, 60000) != 1 || (conn = accept(s, NULL, NULL)) < 0) {
		fprintf(stderr, "no runtime connected in 60 s\n");
		return 1;
	}
	n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		perror("recvmsg");
		return 1;
	}
	buf[n] = 0;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	snprintf(json, sizeof(json), "%s.json", out_path);
	out = fopen(out_path, "w");
	js = fopen(json, "w");
	if (!out || !js)
		return 1;
	fputs(buf, js);
	fclose(js);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	l = fd < 0 ? -1 : readlink(proc, link, sizeof(link) - 1);
	link[l < 0 ? 0 : l] = 0;
	fprintf(out, "fd=%s\n", l < 0 ? "none" : link);
	fflush(out);
	for (;;) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;

		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 60000) != 1 || (pfd.revents & (POLLHUP | POLLERR)))
			break;
		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req))
			continue;	/* the caller went away */
		resp = (struct seccomp_notif_resp){ .id = req.id,
						    .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
		if (req.data.nr == __NR_fcntl)
			fprintf(out, "call fcntl cmd=%u\n", (unsigned int)req.data.args[1]);
		else if (req.data.nr == __NR_clone)
			fprintf(out, "call clone flags=%#x\n", (unsigned int)req.data.args[0]);
		else
			fprintf(out, "call %s\n", call_name(req.data.nr));
		fflush(out);
	}
	fprintf(out, "done\n");
	fclose(out);
	return 0;
}

static void report(const char *name, int rc)
{
	printf("%s=%s\n", name, rc < 0 ? strerrorname_np(errno) : "ok");
}

static int do_probe(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/nonexistent" };
	int s = socket(AF_INET, SOCK_STREAM, 0), u, st;
	pid_t pid;

	report("socket", s);
	report("bind", bind(s, (struct sockaddr *)&sin, sizeof(sin)));
	report("getfl", fcntl(s, F_GETFL));
	report("setfl", fcntl(s, F_SETFL, O_NONBLOCK));
	report("dup", dup(s));
	report("dupfd", fcntl(s, F_DUPFD_CLOEXEC, 20));
	u = socket(AF_UNIX, SOCK_STREAM, 0);
	st = connect(u, (struct sockaddr *)&sun, sizeof(sun));
	printf("unix_connect=%s\n", st ? strerrorname_np(errno) : "ok");
	fflush(stdout);
	pid = fork();
	if (!pid)
		_exit(7);
	report("fork", pid);
	if (pid > 0 && waitpid(pid, &st, 0) == pid)
		printf("child_status=%d\n", WEXITSTATUS(st));
	printf("probe done\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "listen"))
		return do_listen(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "probe"))
		return do_probe();
	fprintf(stderr, "usage: seccomp_listener listen SOCKPATH OUT | probe\n");
	return 2;
}
