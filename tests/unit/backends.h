/* Runs a cmocka group once per backend; a backend that cannot be opened here skips its
 * tests with the reason printed once. */
#ifndef SCRATCHVM_TEST_BACKENDS_H
#define SCRATCHVM_TEST_BACKENDS_H

#include <stdio.h>

#include "hypervisor_sim.h"

typedef struct {
    HvBackend backend;
    int available;   /* -1: not probed yet */
} BackendParam;

static BackendParam backend_kvm = {HV_BACKEND_KVM, -1};
static BackendParam backend_sim = {HV_BACKEND_SIM, -1};

static int backend_group_setup(void **state)
{
    BackendParam *p = *state;
    KvmDevice *kvm = kvm_open_backend(p->backend);
    p->available = kvm != NULL;
    if (!kvm)
        printf("[ SKIPPED  ] every %s test: %s\n", hv_backend_name(p->backend), hv_last_error());
    kvm_close(kvm);
    return 0;
}

/* Skips the current test, saying why on a line of its own (cmocka's own SKIPPED line
 * names the test but gives no reason). */
#define skip_because(...)                                                      \
    do {                                                                       \
        printf("[ SKIPPED  ] %s: ", __func__);                                 \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
        fflush(stdout);                                                        \
        skip();                                                                \
    } while (0)

/* The backend of this test, or skip() when it is not available. */
#define TEST_BACKEND(state)                                                    \
    ({                                                                         \
        BackendParam *p_ = *(state);                                           \
        if (!p_->available)                                                    \
            skip_because("the %s backend is not available here (see above)",  \
                         hv_backend_name(p_->backend));                        \
        p_->backend;                                                           \
    })

static int backend_group_setup_kvm(void **state);
static int backend_group_setup_sim(void **state);

#define RUN_ON_EVERY_BACKEND(tests)                                                       \
    (cmocka_run_group_tests_name("kvm", tests, backend_group_setup_kvm, NULL) |          \
     cmocka_run_group_tests_name("sim", tests, backend_group_setup_sim, NULL))

/* cmocka hands the group state to every test of the group as its *state. */
static int backend_group_setup_kvm(void **state)
{
    *state = &backend_kvm;
    return backend_group_setup(state);
}

static int backend_group_setup_sim(void **state)
{
    *state = &backend_sim;
    return backend_group_setup(state);
}

#endif
