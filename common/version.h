/* The version `llmfork --version` prints and the master logs at start. */
#ifndef LLMFORK_VERSION_H
#define LLMFORK_VERSION_H

#define LLMFORK_VERSION "0.1.0"

#endif
