/*
 * A client for scratchvm's --monitor unix:PATH, for the integration tests: connects to
 * PATH (waiting up to 5 s for it to appear), sends stdin to the socket and copies what
 * comes back to stdout, until the server closes the connection or, after stdin ended, no
 * answer has come for a second. Exits 1 when it cannot connect.
 *
 *   monitor-client PATH < commands
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_to(const char *path)
{
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
