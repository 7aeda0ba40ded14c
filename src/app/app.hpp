// The composition root: builds the blocking pool, store, services, route table, pipeline and
// server from a Config, and runs the `serve` and `migrate` commands.
#pragma once

#include "app/config.hpp"

namespace parley::app {

class App {
public:
    // `effective` is the configuration as text, for the redacted start-up log line.
    App(Config config, Env effective);

    // Serves until SIGTERM/SIGINT and a drain. Returns the process exit code.
    int serve();

    // Applies pending migrations and exits. Returns the process exit code.
    int migrate();

private:
    Config config_;
    Env effective_;
};

}  // namespace parley::app
