/*
 * http: GET /debug/pprof/profile?seconds=N on an embedded libmicrohttpd server, with the
 * semantics of Go's net/http/pprof (headers, one-line text errors, no echo of input).
 *
 * Thread per connection, at most CPUPROF__HTTP_MAX_CONNECTIONS of them. A profile request
 * opens its own sampler session, so requests may overlap each other and a file profile;
 * its thread then sleeps in poll() on the client socket (POLLRDHUP: the client went away)
 * and on the stop pipe (cpuprof_http_stop), closes the session and answers with the
 * gzipped pprof. The server's threads run with every signal blocked except SIGPROF (so
 * their own cost is in the profiles) and the synchronous fault signals.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpuprof.h"
#include "http.h"
#include "reader.h"
#include "sampler.h"
#include "service.h"

/* ---- the query parser (pure) ---- */

/* Decoded bytes of a key or value that are kept; a longer one is never a key we know or
 * an integer we accept. */
#define SPAN_KEEP 32

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = (unsigned char)(c | 0x20); /* ASCII lower case */
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the %-encoded span s[0..n) ('+' is a space): its first SPAN_KEEP bytes into
 * out, its whole decoded length into *len. Returns 0, or -1 on a bad %-escape. */
static int decode_span(const char *s, size_t n, char *out, size_t *len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; o++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = n - i >= 3 ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = n - i >= 3 ? hexval((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				return -1;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else {
			c = c == '+' ? ' ' : c;
			i++;
		}
		if (o < SPAN_KEEP) {
			out[o] = (char)c;
		}
	}
	*len = o;
	return 0;
}

static int span_is(const char *buf, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(buf, want, len) == 0;
}

/* A decimal integer without sign. Returns 0 with *v (capped at limit + 1 when larger), or
 * 1 if buf[0..len) is not one. */
static int span_uint(const char *buf, size_t len, int64_t limit, int64_t *v)
{
	if (len == 0 || len > SPAN_KEEP) {
		return 1;
	}
	int64_t x = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] < '0' || buf[i] > '9') {
			return 1;
		}
		if (x <= limit) {
			x = x * 10 + (buf[i] - '0');
		}
	}
	*v = x > limit ? limit + 1 : x;
	return 0;
}

int cpuprof__http_parse_query(const char *q, size_t len, int max_seconds,
                              struct cpuprof__http_query *out)
{
	int have_seconds = 0, have_hz = 0;
	if (max_seconds < 1) {
		max_seconds = 1;
	}
	out->seconds = max_seconds < CPUPROF__HTTP_DEFAULT_SECONDS ? max_seconds
	                                                           : CPUPROF__HTTP_DEFAULT_SECONDS;
	out->hz = 0;
	size_t pos = 0;
	while (q && pos < len) {
		size_t end = pos;
		while (end < len && q[end] != '&') {
			end++;
		}
		size_t eq = pos;
		while (eq < end && q[eq] != '=') {
			eq++;
		}
		size_t start = pos;
		pos = end + 1;
		if (end == start) {
			continue; /* an empty pair: "a&&b" */
		}
		char key[SPAN_KEEP], val[SPAN_KEEP];
		size_t klen, vlen = 0;
		int has_val = eq < end;
		/* Every escape must be well formed, in keys we ignore too. */
		if (decode_span(q + start, eq - start, key, &klen) != 0 ||
		    (has_val && decode_span(q + eq + 1, end - eq - 1, val, &vlen) != 0)) {
			return CPUPROF__HTTP_QMALFORMED;
		}
		int64_t v = 0;
		if (span_is(key, klen, "seconds")) {
			if (have_seconds++) {
				return CPUPROF__HTTP_QDUPLICATE;
			}
			if (!has_val || span_uint(val, vlen, max_seconds, &v) != 0 || v < 1) {
				return CPUPROF__HTTP_QSECONDS;
			}
			if (v > max_seconds) {
				return CPUPROF__HTTP_QTOOLONG;
			}
			out->seconds = (int)v;
		} else if (span_is(key, klen, "hz")) {
			if (have_hz++) {
				return CPUPROF__HTTP_QDUPLICATE;
			}
			if (!has_val || span_uint(val, vlen, CPUPROF_MAX_HZ, &v) != 0 || v < 1 ||
			    v > CPUPROF_MAX_HZ) {
				return CPUPROF__HTTP_QHZ;
			}
			out->hz = (int)v;
		}
	}
	return CPUPROF__HTTP_QOK;
}

const char *cpuprof__http_query_error(int qerr)
{
	switch (qerr) {
	case CPUPROF__HTTP_QOK:
		return "ok";
	case CPUPROF__HTTP_QMALFORMED:
		return "malformed query string";
	case CPUPROF__HTTP_QSECONDS:
		return "seconds must be a positive integer";
	case CPUPROF__HTTP_QTOOLONG:
		return "seconds exceeds the server's maximum profile duration";
	case CPUPROF__HTTP_QHZ:
		return "hz must be an integer from 1 to 1000000";
	case CPUPROF__HTTP_QDUPLICATE:
		return "seconds or hz is given more than once";
	default:
		return "bad request";
	}
}

/* ---- the server ---- */

/*
 * The running server. `d`, `stop_rd/stop_wr`, `listen_fd` and `hz` are written by
 * start/stop under http_mu and are immutable while d is non-NULL, which covers every
 * handler: MHD_stop_daemon returns only after the last connection thread has ended.
 */
static struct {
	struct MHD_Daemon *d;
	int listen_fd;
	int stop_rd, stop_wr; /* a byte in the pipe (never read) wakes every waiting request */
	int hz;
} srv = {NULL, -1, -1, -1, 0};
static pthread_mutex_t http_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int max_seconds = CPUPROF__HTTP_DEFAULT_MAX_SECONDS;
/* Requests that reached the handler and are not yet completed (their answer may still be
 * on its way out); cpuprof_http_stop waits for them before MHD shuts every socket down. */
static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t busy_cv; /* CLOCK_MONOTONIC, made by the constructor */
static int busy;

/* One request: made by the URI-log callback (the only place MHD shows the raw query),
 * freed by the request-completed callback. */
struct request {
	int answered; /* the handler has seen it, and counts in `busy` */
	int too_long; /* the URI is longer than CPUPROF__HTTP_MAX_URI */
	size_t qlen;
	char query[];
};

static const char index_html[] =
    "<!DOCTYPE html>\n<html><head><title>/debug/pprof/</title></head><body>\n"
    "<p>cpuprof " CPUPROF_VERSION_STRING " profiles:</p>\n"
    "<table><tr><td><a href=\"/debug/pprof/profile?seconds=30\">profile</a></td>"
    "<td>CPU profile. <code>seconds</code> (default 30) sets the duration; "
    "<code>hz</code> sets the rate when nothing else is profiling. "
    "Use it with <code>go tool pprof http://HOST/debug/pprof/profile?seconds=30</code>."
    "</td></tr></table>\n</body></html>\n";

/* Go's profile names that a C program does not have: they get a 404 that says so. */
static const char *const go_only[] = {
    "allocs", "block",  "cmdline",      "goroutine", "heap",
    "mutex",  "symbol", "threadcreate", "trace",     NULL,
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Queues response r (NULL: out of memory) with the headers every answer carries, and
 * drops our reference to it. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                             const char *content_type)
{
	if (!r) {
		return MHD_NO; /* MHD closes the connection */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An error: one line of text, with the marker go tool pprof looks for before it prints
 * an error body. */
static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text,
                                  const char *allow)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (r) {
		MHD_add_response_header(r, "X-Go-Pprof", "1");
		if (allow) {
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
		}
	}
	return reply(c, status, r, "text/plain; charset=utf-8");
}

/* A profile (buf, malloc'd, handed to MHD), or for HEAD (buf NULL) just its headers. */
static enum MHD_Result reply_profile(struct MHD_Connection *c, uint8_t *buf, size_t len)
{
	struct MHD_Response *r =
	    buf ? MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE)
	        : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(buf);
	} else {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
		                        "attachment; filename=\"profile\"");
	}
	return reply(c, MHD_HTTP_OK, r, "application/octet-stream");
}

enum wait_end { WAIT_DONE, WAIT_GONE, WAIT_STOP };

/* Sleeps until `seconds` have passed, the client hangs up, or the server stops. */
static enum wait_end wait_window(struct MHD_Connection *c, int seconds)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd p[2] = {
	    {.fd = srv.stop_rd, .events = POLLIN},
	    /* Only POLLRDHUP: bytes the client pipelines must not wake us in a loop. */
	    {.fd = ci ? ci->connect_fd : -1, .events = POLLRDHUP},
	};
	int64_t deadline = mono_ns() + (int64_t)seconds * 1000000000;
	for (;;) {
		int64_t left = deadline - mono_ns();
		if (left <= 0) {
			return WAIT_DONE;
		}
		/* Round up, so the window is never shorter than asked. */
		int64_t ms = (left + 999999) / 1000000;
		int r = poll(p, 2, ms > 60000 ? 60000 : (int)ms);
		if (r < 0 && errno != EINTR) {
			return WAIT_GONE;
		}
		if (r <= 0) {
			continue;
		}
		if (p[0].revents) {
			return WAIT_STOP;
		}
		if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
			return WAIT_GONE;
		}
	}
}

static enum MHD_Result serve_profile(struct MHD_Connection *c, const struct request *rq, int head)
{
	char msg[160];
	int max = atomic_load_explicit(&max_seconds, memory_order_relaxed);
	struct cpuprof__http_query q;
	int qe = cpuprof__http_parse_query(rq->query, rq->qlen, max, &q);
	if (qe == CPUPROF__HTTP_QTOOLONG) {
		snprintf(msg, sizeof(msg), "seconds exceeds the maximum of %d\n", max);
		return reply_text(c, MHD_HTTP_BAD_REQUEST, msg, NULL);
	}
	if (qe != CPUPROF__HTTP_QOK) {
		snprintf(msg, sizeof(msg), "%s\n", cpuprof__http_query_error(qe));
		return reply_text(c, MHD_HTTP_BAD_REQUEST, msg, NULL);
	}
	if (head) {
		return reply_profile(c, NULL, 0); /* the headers a GET would get, no profile */
	}
	struct cpuprof__session *s = NULL;
	int err = cpuprof__session_open_hz(q.hz ? q.hz : srv.hz, &s);
	if (err) {
		snprintf(msg, sizeof(msg), "could not enable CPU profiling: %s\n",
		         cpuprof_strerror(err));
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, NULL);
	}
	enum wait_end how = wait_window(c, q.seconds);
	int64_t end = mono_ns();
	cpuprof__session_close(s);
	if (how == WAIT_GONE) {
		cpuprof__session_free(s);
		return MHD_NO; /* nobody to answer: MHD closes the connection */
	}
	if (how == WAIT_STOP) {
		cpuprof__session_free(s);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "the profiling server is shutting down\n", NULL);
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	err = cpuprof__session_build(s, NULL, end, &buf, &len);
	cpuprof__session_free(s);
	if (err) {
		free(buf);
		snprintf(msg, sizeof(msg), "could not build the profile: %s\n",
		         cpuprof_strerror(err));
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, NULL);
	}
	return reply_profile(c, buf, len);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	/* Every request is answered on the handler's first call, before MHD reads a body.
	 * MHD then closes the connection after the answer (Connection: close): a scraper
	 * reconnects every few seconds anyway, and no idle keep-alive connection holds one
	 * of the few connection threads. */
	struct request *rq = *req_cls;
	if (rq && rq->answered) {
		*upload_data_size = 0; /* a body after our answer: discard it */
		return MHD_YES;
	}
	if (!rq) {
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	rq->answered = 1;
	pthread_mutex_lock(&busy_mu);
	busy++;
	pthread_mutex_unlock(&busy_mu);
	if (rq->too_long) {
		return reply_text(c, MHD_HTTP_URI_TOO_LONG, "URI too long\n", NULL);
	}
	int head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		                  "GET, HEAD");
	}
	if (strcmp(url, "/debug/pprof/profile") == 0) {
		return serve_profile(c, rq, head);
	}
	if (strcmp(url, "/debug/pprof/") == 0 || strcmp(url, "/debug/pprof") == 0) {
		return reply(c, MHD_HTTP_OK,
		             MHD_create_response_from_buffer(sizeof(index_html) - 1,
		                                             (void *)index_html,
		                                             MHD_RESPMEM_PERSISTENT),
		             "text/html; charset=utf-8");
	}
	static const char prefix[] = "/debug/pprof/";
	if (strncmp(url, prefix, sizeof(prefix) - 1) == 0) {
		for (int i = 0; go_only[i]; i++) {
			if (strcmp(url + sizeof(prefix) - 1, go_only[i]) == 0) {
				return reply_text(c, MHD_HTTP_NOT_FOUND,
				                  "cpuprof serves only the CPU profile "
				                  "(/debug/pprof/profile); disable this profile "
				                  "type in the scraper\n",
				                  NULL);
			}
		}
	}
	return reply_text(c, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	(void)c;
	const char *qm = strchr(uri, '?');
	size_t n = qm ? strlen(qm + 1) : 0;
	int too_long = strlen(uri) > CPUPROF__HTTP_MAX_URI;
	if (too_long) {
		n = 0;
		qm = NULL;
	}
	struct request *rq = malloc(sizeof(*rq) + n + 1);
	if (rq) {
		rq->answered = 0;
		rq->too_long = too_long;
		rq->qlen = n;
		memcpy(rq->query, qm ? qm + 1 : "", n + 1);
	}
	return rq;
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	/* Every request is answered on the handler's first call, before MHD reads a body.
	 * MHD then closes the connection after the answer (Connection: close): a scraper
	 * reconnects every few seconds anyway, and no idle keep-alive connection holds one
	 * of the few connection threads. */
	struct request *rq = *req_cls;
	if (rq && rq->answered) {
		pthread_mutex_lock(&busy_mu);
		if (--busy == 0) {
			pthread_cond_broadcast(&busy_cv);
		}
		pthread_mutex_unlock(&busy_mu);
	}
	free(rq);
	*req_cls = NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

CPUPROF_API int cpuprof_http_start(const char *addr, int port, int hz)
{
	if (port < 0 || port > 65535 || hz < 0) {
		return CPUPROF_EINVAL;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_AUTO | MHD_USE_ITC;
	if (!addr) {
		addr = "127.0.0.1";
	}
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		return CPUPROF_EINVAL;
	}

	pthread_mutex_lock(&http_mu);
	int ret;
	if (srv.d) {
		ret = CPUPROF_ERUNNING;
		goto out;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		ret = CPUPROF_EHTTP;
		goto out;
	}
	srv.stop_rd = p[0];
	srv.stop_wr = p[1];
	srv.hz = hz > CPUPROF_MAX_HZ ? CPUPROF_MAX_HZ : hz;

	/* MHD's threads inherit this mask: the listener from us, connections from it. */
	sigset_t all, old;
	cpuprof__service_sigmask(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	srv.d = MHD_start_daemon(
	    flags, (uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)CPUPROF__HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)CPUPROF__HTTP_CONNECTION_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)CPUPROF__HTTP_CONNECTION_MEMORY, MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!srv.d) {
		close_fd(&srv.stop_rd);
		close_fd(&srv.stop_wr);
		ret = CPUPROF_EHTTP;
		goto out;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
	ret = di && di->port ? di->port : port;
	di = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_LISTEN_FD);
	srv.listen_fd = di ? di->listen_fd : -1;
out:
	pthread_mutex_unlock(&http_mu);
	return ret;
}

CPUPROF_API int cpuprof_http_stop(void)
{
	pthread_mutex_lock(&http_mu);
	if (!srv.d) {
		pthread_mutex_unlock(&http_mu);
		return CPUPROF_ENOTRUNNING;
	}
	/* Accept nobody new; wake every request waiting out its window (each answers 503);
	 * let the answers in flight go out (for a bounded time), since MHD_stop_daemon shuts
	 * every connection's socket down before it joins the connection threads. */
	MHD_socket lfd = MHD_quiesce_daemon(srv.d);
	(void)!write(srv.stop_wr, "x", 1);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += CPUPROF__HTTP_STOP_GRACE;
	pthread_mutex_lock(&busy_mu);
	while (busy > 0 && pthread_cond_timedwait(&busy_cv, &busy_mu, &until) == 0) {
	}
	pthread_mutex_unlock(&busy_mu);
	MHD_stop_daemon(srv.d);
	if (lfd != MHD_INVALID_SOCKET) {
		close(lfd); /* quiesce handed the listening socket to us */
	}
	srv.d = NULL;
	srv.listen_fd = -1;
	close_fd(&srv.stop_rd);
	close_fd(&srv.stop_wr);
	pthread_mutex_unlock(&http_mu);
	return 0;
}

CPUPROF_API int cpuprof_http_set_max_seconds(int max)
{
	if (max < 1) {
		return CPUPROF_EINVAL;
	}
	atomic_store_explicit(&max_seconds, max, memory_order_relaxed);
	return 0;
}

/* A fork child has none of the server's threads. It closes its copy of the listening
 * socket (so the port is not held by a child that outlives the parent) and of the pipe,
 * and forgets the daemon, whose memory is not worth the risk of freeing here. */
static void atfork_child(void)
{
	pthread_mutex_init(&http_mu, NULL);
	pthread_mutex_init(&busy_mu, NULL);
	cpuprof__cond_init_monotonic(&busy_cv);
	busy = 0;
	if (srv.d) {
		srv.d = NULL;
		close_fd(&srv.listen_fd);
		close_fd(&srv.stop_rd);
		close_fd(&srv.stop_wr);
	}
}

__attribute__((constructor)) static void http_init(void)
{
	cpuprof__cond_init_monotonic(&busy_cv);
	pthread_atfork(NULL, NULL, atfork_child);
}
