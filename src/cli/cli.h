/* The scratchvm command as a function, so that main() stays one line. */
#ifndef SCRATCHVM_CLI_H
#define SCRATCHVM_CLI_H

int cli_main(int argc, char **argv);

#endif
