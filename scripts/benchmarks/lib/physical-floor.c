/*
 * The physical floor of scripts/bench: what one change costs with no Node in it. One C process, its rounds driven
 * over stdin/stdout by the benchmark (which then sits idle, waiting for the answer):
 *
 *   etcd      the put: HTTP/1.1 POST /v3/kv/put to etcd's own gRPC gateway on a kept-open TCP connection (etcd
 *             hands it to its gRPC server in-process); the event: `etcdctl watch --prefix` (Go, etcd's native gRPC
 *             client, one long-lived process) writing it on a pipe this process reads
 *   bird -p   posix_spawn + waitpid, output to /dev/null
 *   configure the command on BIRD's control socket, kept open, up to the reply's final line
 *   visible   `show protocols "NAME"` on a fresh connection each time (as birdc does), back to back, until listed
 *
 * usage: physical-floor ETCDCTL HOST PORT PREFIX BIRD CONTROL_SOCKET
 * stdin, one round per line: KEY PROTOCOL CONFIG   stdout: "ok ETCD PARSE CONFIGURE VISIBLE TOTAL" (ms) or "error …"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("error ");
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  va_end(ap);
  exit(1);
}

/* A buffered line reader over one file descriptor. */
struct reader {
  int fd;
  char buf[1 << 16];
  size_t len;
};

/* The next line (without its newline) into `line`; 0 at end of stream. */
static int read_line(struct reader *r, char *line, size_t size) {
  for (;;) {
    char *nl = memchr(r->buf, '\n', r->len);
    if (nl) {
      size_t n = (size_t)(nl - r->buf);
      size_t copy = n < size - 1 ? n : size - 1;
      memcpy(line, r->buf, copy);
      line[copy] = 0;
      memmove(r->buf, nl + 1, r->len - n - 1);
      r->len -= n + 1;
      return 1;
    }
    if (r->len == sizeof r->buf) r->len = 0; /* a line longer than the buffer: dropped */
    ssize_t got = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;
    r->len += (size_t)got;
  }
}

static void write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write: %s", strerror(errno));
    data += n;
    len -= (size_t)n;
  }
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const char *in, char *out) {
  size_t len = strlen(in), o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned char)in[i] << 16;
    if (i + 1 < len) v |= (unsigned char)in[i + 1] << 8;
    if (i + 2 < len) v |= (unsigned char)in[i + 2];
    out[o++] = B64[(v >> 18) & 63];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? B64[v & 63] : '=';
  }
  out[o] = 0;
}

static int tcp_connect(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) fail("bad etcd host %s", host);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("connect etcd: %s", strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int unix_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("connect %s: %s", path, strerror(errno));
  return fd;
}

/* BIRD's reply up to its final line (`DDDD text`); `found` is set when a `1002` row names `protocol`. */
static void bird_reply(struct reader *r, char *final, size_t size, const char *protocol, int *found) {
  char line[4096];
  size_t plen = protocol ? strlen(protocol) : 0;
  while (read_line(r, line, sizeof line)) {
    if (line[0] == '+') continue; /* an asynchronous message */
    if (protocol && strncmp(line, "1002", 4) == 0 && strncmp(line + 5, protocol, plen) == 0 && line[5 + plen] == ' ')
      *found = 1;
    if (strlen(line) >= 5 && line[4] == ' ' && line[0] >= '0' && line[0] <= '9') {
      snprintf(final, size, "%s", line);
      return;
    }
  }
  fail("BIRD closed the control socket");
}

/* POST /v3/kv/put; the response is read after the event (its headers, then Content-Length bytes). */
static void put_request(int fd, const char *host, const char *key) {
  char k64[1024], body[2048], request[4096];
  base64(key, k64);
  snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"MQ==\"}", k64);
  int n = snprintf(request, sizeof request,
                   "POST /v3/kv/put HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   host, strlen(body), body);
  write_all(fd, request, (size_t)n);
}

static void put_response(struct reader *r) {
  char line[4096];
  long length = -1;
  int status = 0;
  while (read_line(r, line, sizeof line)) {
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\r') line[--n] = 0;
    if (status == 0 && sscanf(line, "HTTP/1.1 %d", &status) == 1) continue;
    if (strncasecmp(line, "Content-Length:", 15) == 0) length = atol(line + 15);
    if (n == 0) break;
  }
  if (status != 200) fail("etcd answered the put with HTTP %d", status);
  if (length < 0) fail("etcd's put answer has no Content-Length");
  while (length > 0) { /* the body: consumed from the reader's buffer, then the socket */
    if (r->len > 0) {
      size_t take = (size_t)length < r->len ? (size_t)length : r->len;
      memmove(r->buf, r->buf + take, r->len - take);
      r->len -= take;
      length -= (long)take;
      continue;
    }
    ssize_t got = read(r->fd, r->buf, sizeof r->buf);
    if (got <= 0) fail("etcd closed the connection");
    r->len = (size_t)got;
  }
}

/* Lines from etcdctl watch until `key` is one of them (etcdctl prints PUT, the key, the value per event). */
static void await_event(struct reader *watch, const char *key) {
  char line[4096];
  while (read_line(watch, line, sizeof line))
    if (strcmp(line, key) == 0) return;
  fail("etcdctl watch ended");
}

/* Whether `key` came within `ms` (lines already buffered first, then what the pipe holds). */
static int event_within(struct reader *watch, const char *key, int ms) {
  char line[4096];
  double deadline = now_ms() + ms;
  for (;;) {
    while (memchr(watch->buf, '\n', watch->len)) {
      read_line(watch, line, sizeof line);
      if (strcmp(line, key) == 0) return 1;
    }
    int left = (int)(deadline - now_ms());
    struct pollfd pfd = {.fd = watch->fd, .events = POLLIN};
    if (left <= 0 || poll(&pfd, 1, left) <= 0) return 0;
    ssize_t got = read(watch->fd, watch->buf + watch->len, sizeof watch->buf - watch->len);
    if (got <= 0) fail("etcdctl watch ended");
    watch->len += (size_t)got;
  }
}

int main(int argc, char **argv) {
  if (argc != 7) fail("usage: physical-floor ETCDCTL HOST PORT PREFIX BIRD CONTROL_SOCKET");
  const char *etcdctl = argv[1], *host = argv[2], *prefix = argv[4], *bird = argv[5], *control_path = argv[6];
  int port = atoi(argv[3]);
  setvbuf(stdout, NULL, _IOLBF, 0);

  int pipefd[2];
  if (pipe(pipefd) < 0) fail("pipe: %s", strerror(errno));
  char endpoint[256];
  snprintf(endpoint, sizeof endpoint, "--endpoints=http://%s:%d", host, port);
  char *watch_argv[] = {(char *)etcdctl, endpoint, "watch", "--prefix", (char *)prefix, NULL};
  setenv("ETCDCTL_API", "3", 1);
  pid_t parent = getpid();
  pid_t watcher = fork();
  if (watcher < 0) fail("fork: %s", strerror(errno));
  if (watcher == 0) { /* etcdctl ends with this process, however it ends */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    execvp(etcdctl, watch_argv);
    _exit(127);
  }
  close(pipefd[1]);
  static struct reader watch, etcd, control;
  watch.fd = pipefd[0];

  etcd.fd = tcp_connect(host, port);
  control.fd = unix_connect(control_path);
  char final[4096];
  bird_reply(&control, final, sizeof final, NULL, NULL); /* the greeting */

  /* The watch is there once a put under the prefix comes back through it (etcdctl takes a moment to start). */
  char ready[1024];
  for (int attempt = 0;; attempt++) {
    if (attempt == 100) fail("etcdctl watch saw nothing in 20 s");
    snprintf(ready, sizeof ready, "%sready-%d", prefix, attempt);
    put_request(etcd.fd, host, ready);
    put_response(&etcd);
    if (event_within(&watch, ready, 200)) break;
  }
  printf("ready\n");

  char round[8192];
  struct reader in = {.fd = 0};
  while (read_line(&in, round, sizeof round)) {
    char key[2048], protocol[256], config[4096];
    if (sscanf(round, "%2047s %255s %4095s", key, protocol, config) != 3) fail("bad round line: %s", round);
    double put_at = now_ms();
    put_request(etcd.fd, host, key);
    await_event(&watch, key);
    double event_at = now_ms();

    pid_t child;
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 0, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", 1, 0);
    char *parse_argv[] = {(char *)bird, "-p", "-c", config, NULL};
    if (posix_spawnp(&child, bird, &quiet, NULL, parse_argv, environ) != 0) fail("cannot spawn %s", bird);
    posix_spawn_file_actions_destroy(&quiet);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    double parsed_at = now_ms();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("bird -p refused %s", config);

    write_all(control.fd, "configure\n", 10);
    bird_reply(&control, final, sizeof final, NULL, NULL);
    double answered_at = now_ms();
    if (strncmp(final, "0003 ", 5) != 0 && strncmp(final, "0004 ", 5) != 0 && strncmp(final, "0005 ", 5) != 0)
      fail("BIRD refused configure: %s", final);

    char command[512];
    int n = snprintf(command, sizeof command, "show protocols \"%s\"\n", protocol);
    double visible_at = 0;
    for (int polls = 0; visible_at == 0; polls++) {
      static struct reader poll;
      poll.fd = unix_connect(control_path);
      poll.len = 0;
      bird_reply(&poll, final, sizeof final, NULL, NULL);
      write_all(poll.fd, command, (size_t)n);
      int found = 0;
      bird_reply(&poll, final, sizeof final, protocol, &found);
      close(poll.fd);
      if (found) visible_at = now_ms();
      else if (now_ms() - answered_at > 60000) fail("%s not listed within 60 s", protocol);
    }
    put_response(&etcd);
    printf("ok %.3f %.3f %.3f %.3f %.3f\n", event_at - put_at, parsed_at - event_at, answered_at - parsed_at,
           visible_at - answered_at, visible_at - put_at);
  }
  kill(watcher, SIGTERM);
  waitpid(watcher, NULL, 0);
  return 0;
}
