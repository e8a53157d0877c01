// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade exporter --listen ADDR`: the metrics of `stats --prometheus`
 * over HTTP, for a scraper that wants /metrics (a Kubernetes node agent's
 * PodMonitor, say) rather than node_exporter's textfile directory. The
 * command line and the listener; http.c serves.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "commands.h"
#include "common/output.h"
#include "common/sys.h"
#include "exporter.h"

void help_exporter(FILE *out)
{
	fprintf(out,
		"Usage: %s exporter --listen ADDR\n"
		"\n"
		"Serve the metrics 'stats --prometheus' prints over HTTP: GET /metrics, read\n"
		"anew from the engines on each scrape (any other path: 404; another method:\n"
		"405). Runs until SIGINT or SIGTERM. Needs root, as stats does.\n"
		"\n"
		"  --listen ADDR  HOST:PORT (127.0.0.1:9863, localhost:9863), [IPV6]:PORT\n"
		"                 ([::1]:9863), :PORT (every IPv4 address), or unix:PATH\n"
		"                 (a unix socket, made with mode 0660)\n"
		"\n"
		"No TLS and no authentication: listen on loopback or a unix socket and let a\n"
		"proxy or node agent that has them in front of it, or use 'stats --prometheus\n"
		"--output' with node_exporter's textfile collector.\n", prog_name);
}

static int parse_port(const char *s, char *err, size_t err_size, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > 65535) {
		snprintf(err, err_size, "exporter: --listen '%s' has no port 1-65535 after its ':'",
			 arg);
		return -1;
	}
	return (int)v;
}

int exporter_parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len,
			  char *err, size_t err_size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG }, *res = NULL;
	char host[256], portstr[16];
	const char *colon;
	int port, gai;

	memset(ss, 0, sizeof(*ss));
	if (!strncmp(arg, "unix:", 5)) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		size_t n = strlen(arg + 5);

		if (!n || n >= sizeof(sun->sun_path)) {
			snprintf(err, err_size, "exporter: --listen '%s': a unix socket path of "
				 "1 to %zu bytes after unix:", arg, sizeof(sun->sun_path) - 1);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, arg + 5, n + 1);
		*len = sizeof(*sun);
		return 0;
	}
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (!close || close[1] != ':' || (size_t)(close - arg - 1) >= sizeof(host)) {
			snprintf(err, err_size, "exporter: --listen '%s' is not [IPV6]:PORT", arg);
			return -1;
		}
		memcpy(host, arg + 1, close - arg - 1);
		host[close - arg - 1] = '\0';
		port = parse_port(close + 2, err, err_size, arg);
		if (port < 0)
			return -1;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			snprintf(err, err_size, "exporter: --listen '%s': '%s' is not an IPv6 address",
				 arg, host);
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	colon = strrchr(arg, ':');
	if (!colon) {
		snprintf(err, err_size, "exporter: --listen '%s' has no port: HOST:PORT, [IPV6]:PORT, "
			 ":PORT or unix:PATH", arg);
		return -1;
	}
	if (memchr(arg, ':', colon - arg)) {
		snprintf(err, err_size, "exporter: --listen '%s': write an IPv6 address in brackets, "
			 "[ADDRESS]:PORT", arg);
		return -1;
	}
	if ((size_t)(colon - arg) >= sizeof(host)) {
		snprintf(err, err_size, "exporter: --listen '%s': the host name is too long", arg);
		return -1;
	}
	port = parse_port(colon + 1, err, err_size, arg);
	if (port < 0)
		return -1;
	if (colon == arg) {	/* :PORT: every IPv4 address */
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	memcpy(host, arg, colon - arg);
	host[colon - arg] = '\0';
	snprintf(portstr, sizeof(portstr), "%d", port);
	gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai || !res || res->ai_addrlen > sizeof(*ss)) {
		snprintf(err, err_size, "exporter: --listen '%s': can't resolve '%s': %s", arg, host,
			 gai ? gai_strerror(gai) : "no address");
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A unix socket file left by an exporter that is gone (nobody accepts on it): removed. */
static int unix_stale(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : -EADDRINUSE;
	close(fd);
	if (ret == -ECONNREFUSED)
		return unlink(path) ? -errno : 0;
	return ret == -EADDRINUSE ? ret : 0;
}

static const char *hint(int err)
{
	switch (err) {
	case EADDRINUSE:
		return " (another program listens there: pick another port or stop it)";
	case EACCES:
	case EPERM:
		return " (no permission: a port below 1024 needs CAP_NET_BIND_SERVICE, a unix "
		       "socket a directory root may write to)";
	case EADDRNOTAVAIL:
		return " (no interface of this network namespace has that address)";
	case EEXIST:
		return " (a file that is not a socket is there: remove it or pick another path)";
	case ENOENT:
		return " (its directory does not exist)";
	}
	return "";
}

int do_exporter(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{}
	};
	const char *listen_arg = NULL, *unix_path = NULL;
	struct sockaddr_storage ss;
	char err[512];
	socklen_t len;
	int c, fd, one = 1, ret;

	if (wants_help(argc, argv)) {
		help_exporter(stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_arg = optarg;
			break;
		case ':':
			return usage_err("exporter: option '%s' needs a value (see '%s exporter help')",
					 argv[optind - 1], prog_name);
		default:
			return usage_err("exporter: unknown option '%s' (see '%s exporter help')",
					 argv[optind - 1], prog_name);
		}
	}
	if (optind < argc)
		return usage_err("exporter: unexpected argument '%s' (see '%s exporter help')",
				 argv[optind], prog_name);
	if (!listen_arg)
		return usage_err("exporter: needs --listen ADDR (HOST:PORT, [IPV6]:PORT or "
				 "unix:PATH)");
	if (opts.json)
		return usage_err("exporter: serves Prometheus text, not --json");
	if (exporter_parse_listen(listen_arg, &ss, &len, err, sizeof(err)))
		return usage_err("%s", err);
	if (need_root("exporter"))
		return 1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		p_err("can't listen on %s: %s", listen_arg, strerror(errno));
		return 1;
	}
	if (ss.ss_family == AF_UNIX) {
		unix_path = ((struct sockaddr_un *)&ss)->sun_path;
		ret = unix_stale(unix_path);
		if (ret) {
			p_err("can't listen on %s: %s%s", listen_arg, strerror(-ret), hint(-ret));
			close(fd);
			return 1;
		}
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		ret = errno;
		p_err("can't listen on %s: %s%s", listen_arg, strerror(ret), hint(ret));
		close(fd);
		return 1;
	}
	if (unix_path)
		chmod(unix_path, 0660);
	printf("exporter: serving /metrics on %s\n", listen_arg);
	fflush(stdout);
	ret = exporter_serve(fd);
	close(fd);
	if (unix_path)
		unlink(unix_path);
	return ret;
}
