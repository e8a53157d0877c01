/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `mptcp-upgrade exporter`: the metrics `stats --prometheus` prints, served
 * over HTTP/1.1 for a scraper. cmd_exporter.c reads the command line and
 * opens the listener; http.c reads requests and answers them, one
 * single-threaded poll loop for every client.
 */
#ifndef MU_EXPORTER_H
#define MU_EXPORTER_H

#include <stddef.h>
#include <sys/socket.h>

/* A request's head may be this long (request line and headers); longer: 431. */
#define EXPORTER_MAX_REQUEST	8192
/* Clients served at once; more wait in the listener's backlog. */
#define EXPORTER_MAX_CLIENTS	32
/* A client has this long from accept() to its whole answer read. */
#define EXPORTER_CLIENT_MS	5000

/*
 * --listen ADDR: host:port, [v6]:port, :port (every address), or unix:PATH.
 * 0 with @ss and @len set; or -1 with @err (a usage error).
 */
int exporter_parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len,
			  char *err, size_t err_size);

/* What a request's head asks for. */
enum http_verdict {
	HTTP_INCOMPLETE,	/* no end of head yet */
	HTTP_METRICS,		/* GET /metrics */
	HTTP_METRICS_HEAD,	/* HEAD /metrics */
	HTTP_NOT_FOUND,		/* 404 */
	HTTP_BAD_METHOD,	/* 405 */
	HTTP_BAD_REQUEST,	/* 400 */
	HTTP_TOO_LARGE,		/* 431: no end of head within EXPORTER_MAX_REQUEST */
};

/* Read the head in @buf (@len bytes so far). */
enum http_verdict http_classify(const char *buf, size_t len);

/*
 * Serve on @fd (listening, non-blocking) until SIGINT or SIGTERM: each GET
 * /metrics renders the metrics anew. 0 on a signal, 1 on an error (said).
 */
int exporter_serve(int fd);

#endif /* MU_EXPORTER_H */
