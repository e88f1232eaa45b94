/* fuzz_quiet_output (fuzz.h), linked into every harness. */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "hypervisor_sim.h"

FILE *fuzz_quiet_output(void)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    hv_set_log_level(HV_LOG_ERROR);
    return fopen("/dev/null", "w");
}
