/* fuzz_quiet_stdout (fuzz.h), linked into every harness. */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"

void fuzz_quiet_stdout(void)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
}
