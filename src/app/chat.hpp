// `parley chat`: one question to a model from the command line, through the same provider layer
// the server uses (router, fallback, timeouts). Prints one JSON object per event on stdout, which
// makes it a tool for operators checking a key and for the provider tests.
#pragma once

#include <string>

#include "app/config.hpp"

namespace parley::app {

struct ChatCommand {
    std::string prompt;
    std::string model;  // empty: DEFAULT_MODEL
    std::string system;
    bool thinking = false;
    int max_tokens = 1024;
    bool no_stream = false;  // use the providers' non-streaming endpoints
};

// Runs the command; returns the exit code: 0 when the model answered, 1 when it failed, 2 for a
// configuration error, 130 when interrupted (SIGINT/SIGTERM cancel the upstream request).
int run_chat(const Config& config, const ChatCommand& command);

}  // namespace parley::app
