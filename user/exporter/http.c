// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporter's HTTP side: one poll loop, one thread, every client
 * non-blocking with a deadline, so that a slow or silent client holds a slot
 * for EXPORTER_CLIENT_MS at most and never the loop. A scrape renders the
 * metrics with the stats printer itself (stats_show), its stdout on a memfd
 * for the time of the call: the same series `stats --prometheus` prints,
 * read anew from the engines for each scrape. Each answer closes its
 * connection (Connection: close), which every scraper handles.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/output.h"
#include "exporter.h"
#include "stats/stats.h"

#define CONTENT_TYPE_METRICS	"text/plain; version=0.0.4; charset=utf-8"

struct client {
	int fd;
	long long deadline;	/* ms, CLOCK_MONOTONIC */
	char req[EXPORTER_MAX_REQUEST];
	size_t got;
	char *resp;		/* the whole answer, once the head is read */
	size_t resp_len, sent;
	/*
	 * All written and our side shut: what the client still sends is read
	 * and dropped until it closes (or its deadline), so that the close is
	 * no reset that could take the answer with it (an oversized request).
	 */
	bool draining;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c);
}

enum http_verdict http_classify(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *p, *target, *version;
	size_t mlen, tlen;

	if (!end)
		end = memmem(buf, len, "\n\n", 2);	/* a bare-LF client, as RFC 9112 allows */
	if (!end)
		return len >= EXPORTER_MAX_REQUEST ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
	for (p = buf; p < end && token_char(*p); p++)
		;
	mlen = p - buf;
	if (!mlen || p >= end || *p != ' ')
		return HTTP_BAD_REQUEST;
	target = ++p;
	while (p < end && *p != ' ' && *p != '\r' && *p != '\n')
		p++;
	tlen = p - target;
	if (!tlen || p >= end || *p != ' ')
		return HTTP_BAD_REQUEST;
	version = ++p;
	if (end - version < 8 || (strncmp(version, "HTTP/1.1", 8) && strncmp(version, "HTTP/1.0", 8)) ||
	    (version[8] != '\r' && version[8] != '\n'))
		return HTTP_BAD_REQUEST;
	if (target[0] != '/')
		return HTTP_BAD_REQUEST;
	/* The path, without a query: /metrics?x=1 is /metrics. */
	for (p = target; p < target + tlen && *p != '?'; p++)
		;
	if (p - target != 8 || strncmp(target, "/metrics", 8))
		return HTTP_NOT_FOUND;
	if (mlen == 3 && !strncmp(buf, "GET", 3))
		return HTTP_METRICS;
	if (mlen == 4 && !strncmp(buf, "HEAD", 4))
		return HTTP_METRICS_HEAD;
	return HTTP_BAD_METHOD;
}

/*
 * The metrics, as `stats --prometheus` writes them, in a malloc'd buffer:
 * stdout is a memfd for the time of stats_show(). NULL when it failed (it
 * said why on stderr) or out of memory.
 */
static char *render(size_t *len)
{
	struct stats_args a = { .prometheus = true };
	int mfd, saved, ret;
	char *body = NULL;
	off_t size;

	fflush(stdout);
	mfd = memfd_create("mu-metrics", MFD_CLOEXEC);
	if (mfd < 0) {
		p_err("can't render the metrics: memfd_create: %s", strerror(errno));
		return NULL;
	}
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(mfd, STDOUT_FILENO) < 0) {
		p_err("can't render the metrics: %s", strerror(errno));
		if (saved >= 0)
			close(saved);
		close(mfd);
		return NULL;
	}
	ret = stats_show(&a);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	size = lseek(mfd, 0, SEEK_END);
	if (!ret && size >= 0)
		body = malloc(size + 1);
	if (body && pread(mfd, body, size, 0) != size) {
		free(body);
		body = NULL;
	}
	close(mfd);
	if (body)
		*len = size;
	return body;
}

/* The whole answer to @v: status line, headers, and the body unless HEAD. */
static int answer(struct client *c, enum http_verdict v)
{
	const char *status, *type = "text/plain; charset=utf-8", *extra = "";
	char *body = NULL, head[512];
	size_t body_len = 0;
	bool owned = false;
	int n;

	switch (v) {
	case HTTP_METRICS:
	case HTTP_METRICS_HEAD:
		body = render(&body_len);
		if (body) {
			status = "200 OK";
			type = CONTENT_TYPE_METRICS;
			owned = true;
			break;
		}
		status = "500 Internal Server Error";
		body = "the metrics could not be read: the exporter's log says why\n";
		break;
	case HTTP_NOT_FOUND:
		status = "404 Not Found";
		body = "not found: this exporter serves /metrics\n";
		break;
	case HTTP_BAD_METHOD:
		status = "405 Method Not Allowed";
		extra = "Allow: GET, HEAD\r\n";
		body = "method not allowed: GET /metrics\n";
		break;
	case HTTP_TOO_LARGE:
		status = "431 Request Header Fields Too Large";
		body = "request too large\n";
		break;
	default:
		status = "400 Bad Request";
		body = "bad request\n";
		break;
	}
	if (!owned)
		body_len = strlen(body);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "%sConnection: close\r\n\r\n", status, type, body_len, extra);
	if (v == HTTP_METRICS_HEAD)
		body_len = 0;
	c->resp = malloc(n + body_len);
	if (c->resp) {
		memcpy(c->resp, head, n);
		memcpy(c->resp + n, body, body_len);
		c->resp_len = n + body_len;
	}
	if (owned)
		free(body);
	return c->resp ? 0 : -1;
}

static void drop(struct client *c)
{
	close(c->fd);
	free(c->resp);
	c->fd = -1;
	c->resp = NULL;
}

/* Read what came; once the head is whole, build the answer. -1: drop the client. */
static int client_read(struct client *c)
{
	enum http_verdict v;
	ssize_t r;

	r = recv(c->fd, c->req + c->got, sizeof(c->req) - c->got, 0);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (r == 0)
		return -1;	/* gone before asking */
	c->got += r;
	v = http_classify(c->req, c->got);
	if (v == HTTP_INCOMPLETE)
		return 0;
	return answer(c, v);
}

/* Read and drop what the client still sends; 1 once it closed. */
static int client_drain(struct client *c)
{
	char sink[4096];
	ssize_t r = recv(c->fd, sink, sizeof(sink), 0);

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	return r == 0;
}

/* Write what the socket takes; then drain. -1 on error. */
static int client_write(struct client *c)
{
	ssize_t w = send(c->fd, c->resp + c->sent, c->resp_len - c->sent, MSG_NOSIGNAL);

	if (w < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->sent += w;
	if (c->sent < c->resp_len)
		return 0;
	shutdown(c->fd, SHUT_WR);
	c->draining = true;
	return 0;
}

static int accept_client(int lfd, struct client *clients, size_t *nr)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct client *c;

	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? 0 : -1;
	c = &clients[(*nr)++];
	c->fd = fd;
	c->got = c->sent = c->resp_len = 0;
	c->resp = NULL;
	c->draining = false;
	c->deadline = now_ms() + EXPORTER_CLIENT_MS;
	return 0;
}

int exporter_serve(int lfd)
{
	static struct client clients[EXPORTER_MAX_CLIENTS];
	struct pollfd pfd[EXPORTER_MAX_CLIENTS + 2];
	size_t nr = 0, i, j;
	sigset_t mask;
	int sfd, ret = 1;

	/* SIGINT and SIGTERM end the loop between two events, never inside a scrape. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		p_err("can't serve: signalfd: %s", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		long long now = now_ms(), wait = -1;
		size_t np = 0;
		int r;

		/* Clients past their deadline go; the next deadline bounds the wait. */
		for (i = 0, j = 0; i < nr; i++) {
			if (clients[i].deadline <= now) {
				drop(&clients[i]);
				continue;
			}
			clients[j++] = clients[i];
		}
		nr = j;
		pfd[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		/* A full house leaves new clients in the backlog until a slot frees. */
		pfd[np++] = (struct pollfd){ .fd = nr < EXPORTER_MAX_CLIENTS ? lfd : -1,
					     .events = POLLIN };
		for (i = 0; i < nr; i++) {
			pfd[np++] = (struct pollfd){ .fd = clients[i].fd,
						     .events = clients[i].resp && !clients[i].draining ?
							       POLLOUT : POLLIN };
			if (wait < 0 || clients[i].deadline - now < wait)
				wait = clients[i].deadline - now;
		}
		r = poll(pfd, np, (int)wait);
		if (r < 0 && errno != EINTR) {
			p_err("can't serve: poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		if (pfd[0].revents) {
			ret = 0;
			break;
		}
		for (i = 0; i < nr; i++) {
			struct client *c = &clients[i];
			short ev = pfd[i + 2].revents;
			int done = 0;

			if (!ev)
				continue;
			if (c->draining)
				done = client_drain(c);
			else if (!c->resp && (ev & (POLLIN | POLLHUP | POLLERR)))
				done = client_read(c);
			/* An answer just built is written at once: most fit the socket's buffer. */
			if (!done && c->resp && !c->draining)
				done = client_write(c);
			if (done)
				drop(c);
		}
		for (i = 0, j = 0; i < nr; i++)
			if (clients[i].fd >= 0)
				clients[j++] = clients[i];
		nr = j;
		if ((pfd[1].revents & POLLIN) && accept_client(lfd, clients, &nr)) {
			p_err("can't accept a client: %s", strerror(errno));
			break;
		}
	}
	for (i = 0; i < nr; i++)
		drop(&clients[i]);
	close(sfd);
	return ret;
}
