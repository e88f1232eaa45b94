/*
 * A client for scratchvm's --monitor unix:PATH and -qmp, for the integration tests:
 * connects to PATH or tcp:HOST:PORT (waiting up to 5 s for it to listen), sends stdin to
 * the socket and copies what comes back to stdout, until the server closes the connection
 * or, after stdin ended, no answer has come for a second. Exits 1 when it cannot connect.
 *
 *   monitor-client PATH|tcp:HOST:PORT < commands
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* tcp:HOST:PORT: one attempt per address. */
static int connect_tcp(const char *spec)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof(host))
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int connect_to(const char *path)
{
    if (strncmp(path, "tcp:", 4) == 0) {
        for (int i = 0; i < 100; i++) {
            int fd = connect_tcp(path + 4);
            if (fd >= 0)
                return fd;
            nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        }
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path))
        return -1;
    strcpy(addr.sun_path, path);
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
            return fd;
        close(fd);
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH < commands\n", argv[0]);
        return 2;
    }
    int fd = connect_to(argv[1]);
    if (fd < 0) {
        fprintf(stderr, "monitor-client: cannot connect to %s\n", argv[1]);
        return 1;
    }
    int in_open = 1;
    char buf[4096];
    for (;;) {
        struct pollfd fds[2] = {{fd, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}};
        int n = poll(fds, 2, in_open ? -1 : 1000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;   /* stdin is done and the server has been quiet for a second */
        if (fds[0].revents) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0)
                break;   /* the server closed the connection */
            if (write_all(1, buf, (size_t)r) < 0)
                break;
        }
        if (fds[1].revents) {
            ssize_t r = read(0, buf, sizeof(buf));
            if (r <= 0)
                in_open = 0;
            else if (write_all(fd, buf, (size_t)r) < 0)
                break;
        }
    }
    close(fd);
    return 0;
}
